/**
 * A client that connects and never negotiates must not keep the device from the next
 * client: the server closes it after handshakeTimeoutMs. One that negotiates and then
 * stops in the middle of a message is closed after partialMessageTimeoutMs; one that is
 * merely idle between messages is left alone.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  Command,
  encodeRequestMessage,
  VFIO_USER_MAJOR,
  VFIO_USER_MINOR,
} from "../../src/protocol/index.js";
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

/** Resolves once some reply bytes arrive (and reads them); rejects on EOF. */
function replyArrives(sock: UnixSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const buf = new Uint8Array(4096);
    sock.onReadable(() => {
      const r = sock.recv(buf, 0);
      if (r === null) return;
      sock.onReadable(null);
      if (r.bytes === 0) reject(new Error("closed by the server"));
      else resolve();
    });
  });
}

describe("hostile client: connects and says nothing", () => {
  let dev: DeviceProcess;
  before(async () => {
    dev = await startDevice(["--handshake-timeout", "200", "--partial-message-timeout", "300"]);
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

  it("negotiates, idles (left alone), then stops mid-message and is closed", {
    timeout: 10_000,
  }, async () => {
    const sock = connectUnix(dev.path);
    const version = encodeRequestMessage(1, Command.VFIO_USER_VERSION, {
      major: VFIO_USER_MAJOR,
      minor: VFIO_USER_MINOR,
      capabilities: {},
    });
    const read = encodeRequestMessage(2, Command.VFIO_USER_REGION_READ, {
      offset: 0n,
      region: 7,
      count: 2,
    });
    sock.send([version]);
    await replyArrives(sock);
    // Idle between messages for twice the partial-message deadline: still served.
    await new Promise((r) => setTimeout(r, 600));
    sock.send([read]);
    await replyArrives(sock);
    // Half a header, then nothing: the server gives up on it.
    sock.send([read.subarray(0, 8)]);
    await closedByServer(sock);
    sock.close();
    const next = await RawClient.connect(dev.path);
    next.close();
    await next.closed();
  });
});
