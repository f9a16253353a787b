import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VfioError } from "../../src/errors.js";
import { HEADER_SIZE } from "../../src/protocol/constants.js";
import {
  CMD,
  concatBytes,
  READ,
  rawConnection,
  rawMessage,
  recvExactly,
  tick,
  WRITE,
} from "./util.js";

const REPLY_BODY = 4096;
const REPLY_SIZE = HEADER_SIZE + REPLY_BODY;

/**
 * Pushes `count` requests at the connection as fast as its socket takes them, and
 * stops once nothing moves any more: the peer cannot send (our receive buffer is full)
 * and the connection handles nothing new, for `idleTurns` turns of the event loop.
 */
async function flood(
  send: (bytes: Uint8Array) => number,
  bytes: Uint8Array,
  handled: () => number,
  idleTurns = 200,
): Promise<number> {
  let off = 0;
  let idle = 0;
  let last = -1;
  while (off < bytes.byteLength && idle < idleTurns) {
    const n = send(bytes.subarray(off));
    off += n;
    const now = handled();
    idle = n === 0 && now === last ? idle + 1 : 0;
    last = now;
    await tick();
  }
  return off;
}

describe("flow control: a peer that does not read", () => {
  it("stops being read at the high-water mark, and is answered in order once it reads", async () => {
    const highWater = 64 * 1024;
    const { conn, peer, done } = rawConnection({ highWaterBytes: highWater, stallTimeoutMs: 0 });
    try {
      let handled = 0;
      const body = new Uint8Array(REPLY_BODY);
      conn.onRequest((f) => {
        handled++;
        conn.reply(f, body);
      });
      const count = 20_000;
      const requests = concatBytes(
        Array.from({ length: count }, (_, i) => rawMessage(i & 0xffff, READ, CMD)),
      );
      const sent = await flood(
        (b) => peer.send([b]),
        requests,
        () => handled,
      );
      assert.equal(conn.throttledByPeer, true);
      assert.ok(
        sent < requests.byteLength,
        "the peer could not push everything: we stopped reading",
      );
      // Unthrottled, all 20,000 would have been answered into an 80 MB queue. Throttled,
      // what was handled is the high-water mark plus what the kernel buffers for the peer.
      assert.ok(handled * REPLY_SIZE < highWater + (4 << 20), `handled ${handled} requests`);
      assert.ok(conn.queuedBytes <= highWater + REPLY_SIZE, `queued ${conn.queuedBytes}`);

      // Now the peer reads: every request it managed to send is answered, in order.
      const answered = sent / HEADER_SIZE;
      for (let i = 0; i < answered; i++) {
        const { bytes } = await recvExactly(peer, REPLY_SIZE);
        assert.equal(bytes[0]! | (bytes[1]! << 8), i & 0xffff, `reply ${i} in order`);
        if (i % 256 === 0) await tick();
      }
      // The rest of the flood goes out now that we read again, and is all answered.
      const rest = requests.subarray(sent);
      const expected = (count - answered) * REPLY_SIZE;
      const buf = new Uint8Array(1 << 16);
      let off = 0;
      let received = 0;
      while (off < rest.byteLength || received < expected) {
        if (off < rest.byteLength) off += peer.send([rest.subarray(off)]);
        const r = peer.recv(buf, 0);
        if (r !== null) received += r.bytes;
        else await tick();
      }
      assert.equal(received, expected);
      assert.equal(handled, count);
      assert.equal(conn.throttledByPeer, false);
    } finally {
      done();
    }
  });

  it("closes the connection with ETIMEDOUT when the peer takes nothing for stallTimeoutMs", async () => {
    const { conn, peer, done } = rawConnection({ highWaterBytes: 16 * 1024, stallTimeoutMs: 50 });
    try {
      const body = new Uint8Array(REPLY_BODY);
      conn.onRequest((f) => conn.reply(f, body));
      const closed = new Promise<VfioError | undefined>((r) => conn.once("close", r));
      const requests = concatBytes(
        Array.from({ length: 4000 }, (_, i) => rawMessage(i, READ, CMD)),
      );
      let off = 0;
      while (!conn.closed && off < requests.byteLength) {
        off += peer.send([requests.subarray(off)]);
        await tick();
      }
      const err = await closed;
      assert.equal(err?.code, "ETIMEDOUT");
      assert.match(err!.message, /took none of the \d+ bytes queued for it in 50 ms/);
    } finally {
      done();
    }
  });

  it("refuses our own requests with ENOBUFS past maxQueuedBytes, instead of queueing without end", async () => {
    const { conn, done } = rawConnection({ maxQueuedBytes: 256 * 1024, stallTimeoutMs: 0 });
    try {
      const body = new Uint8Array(64 * 1024);
      let refused: unknown;
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 1000 && refused === undefined; i++) {
        const p = conn.request(WRITE, body);
        pending.push(p.catch(() => {}));
        await Promise.race([p.catch((e: unknown) => (refused = e)), tick()]);
      }
      assert.ok(refused instanceof VfioError && refused.code === "ENOBUFS", String(refused));
      assert.match((refused as Error).message, /the peer is not reading/);
      assert.ok(conn.queuedBytes <= 256 * 1024 + body.byteLength + HEADER_SIZE);
      assert.throws(
        () => conn.notify(WRITE, body),
        (e: unknown) => e instanceof VfioError && e.code === "ENOBUFS",
      );
    } finally {
      done();
    }
  });
});
