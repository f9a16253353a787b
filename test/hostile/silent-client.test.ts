/**
 * A client that connects and never negotiates must not keep the device from the next
 * client: the server closes it after handshakeTimeoutMs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectUnix, type UnixSocket } from "../../src/sys/index.js";
import { type DeviceProcess, startDevice } from "../server/harness.js";
import { RawClient } from "../server/raw-client.js";

/** Resolves when the server closes `sock` (EOF). */
function closedByServer(sock: UnixSocket): Promise<void> {
  return new Promise((resolve) => {
    const buf = new Uint8Array(64);
    sock.onReadable(() => {
      if (sock.recv(buf, 0)?.bytes === 0) {
        sock.onReadable(null);
        resolve();
      }
    });
  });
}

describe("hostile client: connects and says nothing", () => {
  let dev: DeviceProcess;
  before(async () => {
    dev = await startDevice(["--handshake-timeout", "200"]);
  });
  after(async () => {
    await dev.stop();
  });

  it("is closed once the handshake deadline passes, and the next client is served", {
    timeout: 10_000,
  }, async () => {
    const baseline = await dev.stableFds();
    const silent = connectUnix(dev.path);
    await closedByServer(silent);
    silent.close();
    const next = await RawClient.connect(dev.path);
    try {
      assert.ok(next.negotiated !== undefined);
      assert.equal((await next.regionRead(7, 0, 2)).byteLength, 2);
    } finally {
      next.close();
      await next.closed();
    }
    assert.equal(await dev.settleFds(baseline), baseline);
  });

  it("stops mid-handshake (half a VERSION) and is closed just the same", {
    timeout: 10_000,
  }, async () => {
    const half = connectUnix(dev.path);
    half.send([Uint8Array.of(1, 0, 1, 0, 64, 0, 0, 0)]); // 8 of a 64-byte message's bytes
    await closedByServer(half);
    half.close();
    const next = await RawClient.connect(dev.path);
    next.close();
    await next.closed();
  });
});
