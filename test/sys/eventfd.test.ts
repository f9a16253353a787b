import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventFd } from "../../src/sys/eventfd.js";

describe("EventFd", () => {
  it("adds up signals, reads the sum once, then null", () => {
    const e = EventFd.create();
    try {
      assert.equal(e.read(), null);
      e.signal();
      e.signal(2n);
      e.signal(4);
      assert.equal(e.read(), 7n);
      assert.equal(e.read(), null);
    } finally {
      e.close();
    }
  });

  it("semaphore mode hands out one at a time; initval counts", () => {
    const e = EventFd.create({ semaphore: true, initval: 2 });
    try {
      assert.equal(e.read(), 1n);
      assert.equal(e.read(), 1n);
      assert.equal(e.read(), null);
    } finally {
      e.close();
    }
  });

  it("refuses to overflow the counter", () => {
    const e = EventFd.create();
    try {
      assert.equal(e.signal(0xffff_ffff_ffff_fffen), true);
      assert.equal(e.signal(1n), false);
      assert.equal(e.read(), 0xffff_ffff_ffff_fffen);
      assert.throws(() => e.signal(0xffff_ffff_ffff_ffffn), RangeError);
      assert.throws(() => e.signal(-1n), RangeError);
    } finally {
      e.close();
    }
  });

  it("wakes onReadable from the event loop", async () => {
    const e = EventFd.create();
    try {
      const got = new Promise<bigint | null>((resolve) =>
        e.onReadable(() => {
          e.onReadable(null);
          resolve(e.read());
        }),
      );
      setImmediate(() => e.signal(3n));
      assert.equal(await got, 3n);
    } finally {
      e.close();
    }
    assert.throws(() => e.signal(), { code: "EBADF" });
    assert.throws(() => e.read(), { code: "EBADF" });
  });
});
