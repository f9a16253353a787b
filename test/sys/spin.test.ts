import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { socketPair } from "../../src/sys/socket.js";
import type { SysError } from "../../src/sys/sys-error.js";

describe("UnixSocket.spinUntilReadable (native busy-wait)", () => {
  it("returns false once the time is up on an idle socket, and leaves it untouched", () => {
    const [a, b] = socketPair();
    try {
      assert.equal(a.spinUntilReadable(0), false);
      assert.equal(a.spinUntilReadable(2000), false);
      assert.equal(a.recv(new Uint8Array(8), 0), null, "nothing was consumed");
    } finally {
      a.close();
      b.close();
    }
  });

  it("returns true when data is already there, without consuming it", () => {
    const [a, b] = socketPair();
    try {
      b.send([Uint8Array.of(1, 2, 3)]);
      assert.equal(a.spinUntilReadable(0), true);
      assert.equal(a.spinUntilReadable(1_000_000), true, "returns at once, not after 1 s");
      assert.equal(a.recv(new Uint8Array(8), 0)?.bytes, 3);
      assert.equal(a.spinUntilReadable(0), false);
    } finally {
      a.close();
      b.close();
    }
  });

  it("returns true when the peer hung up, so the next read sees the EOF", () => {
    const [a, b] = socketPair();
    try {
      b.close();
      assert.equal(a.spinUntilReadable(1_000_000), true);
      assert.equal(a.recv(new Uint8Array(8), 0)?.bytes, 0);
    } finally {
      a.close();
    }
  });

  it("rejects a time outside 0..1e6 µs and a closed socket", () => {
    const [a, b] = socketPair();
    assert.throws(() => a.spinUntilReadable(1_000_001), RangeError);
    assert.throws(() => a.spinUntilReadable(-1), RangeError);
    a.close();
    b.close();
    assert.throws(
      () => a.spinUntilReadable(0),
      (e: unknown) => (e as SysError).code === "EBADF",
    );
  });
});
