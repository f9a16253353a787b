/**
 * Opt-in busy polling (pollUs) on a Connection over real sockets. The spin is observed
 * through a socket wrapper that counts spinUntilReadable calls and can make the peer
 * "answer" during a spin, so nothing here depends on timing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { socketPair, type UnixSocket } from "../../src/sys/index.js";
import { Connection, type Frame } from "../../src/transport/index.js";
import { CMD, READ, RecordingSocket, rawMessage, recvExactly, tick, u8, waitFor } from "./util.js";

/** A real socket whose spins are counted; `onSpin` runs just before each spin. */
class SpinSpy extends RecordingSocket {
  spins = 0;
  caught = 0;
  onSpin: (() => void) | null = null;
  constructor(readonly real: UnixSocket) {
    super(real);
  }
  spinUntilReadable(usec: number): boolean {
    this.spins++;
    this.onSpin?.();
    const ready = this.real.spinUntilReadable(usec);
    if (ready) this.caught++;
    return ready;
  }
}

function polledServer(pollUs: number) {
  const [a, b] = socketPair();
  const spy = new SpinSpy(a);
  const conn = new Connection(spy, { pollUs });
  return {
    conn,
    spy,
    peer: b,
    done: () => {
      conn.close();
      b.close();
    },
  };
}

const request = (id: number, tag: number) => rawMessage(id, READ, CMD, u8(tag));

describe("Connection with pollUs (busy polling)", () => {
  it("handles a message that arrives during the spin in the same event-loop callback", async () => {
    const { conn, spy, peer, done } = polledServer(1000);
    try {
      const order: string[] = [];
      conn.onRequest((f: Frame, c) => {
        order.push(`m${f.body[0]}`);
        if (f.body[0] === 1) setImmediate(() => order.push("immediate"));
        c.reply(f, f.body);
      });
      // The peer's second message is sent from inside the first spin, as a fast peer's
      // answer would arrive while we spin.
      spy.onSpin = () => {
        spy.onSpin = null;
        peer.send([request(2, 2)]);
      };
      peer.send([request(1, 1)]);
      await waitFor(() => order.includes("immediate"), "the setImmediate callback");
      assert.deepEqual(order, ["m1", "m2", "immediate"]);
      assert.ok(spy.caught >= 1);
      const replies = await recvExactly(peer, 2 * 17);
      assert.deepEqual([replies.bytes[0], replies.bytes[17]], [1, 2], "replies in order");
    } finally {
      done();
    }
  });

  it("spins once after a message and not again while the connection is idle", async () => {
    const { conn, spy, peer, done } = polledServer(200);
    try {
      let handled = 0;
      conn.onRequest((f, c) => {
        handled++;
        c.reply(f, f.body);
      });
      peer.send([request(1, 1)]);
      await waitFor(() => handled === 1 && spy.spins === 1, "one message and one spin");
      await recvExactly(peer, 17);
      // Many turns of the event loop with nothing arriving: no further spin.
      for (let i = 0; i < 200; i++) await tick();
      assert.equal(spy.spins, 1);
      assert.equal(spy.caught, 0);
    } finally {
      done();
    }
  });

  it("yields to the event loop even when the peer always answers within the spin", async () => {
    const { conn, spy, peer, done } = polledServer(1_000_000);
    try {
      let handled = 0;
      let immediateAfter = -1;
      conn.onRequest((f, c) => {
        handled++;
        if (handled === 1) setImmediate(() => (immediateAfter = handled));
        c.reply(f, f.body);
      });
      // A peer that has the next message ready at every spin, until the loop ran.
      let id = 2;
      spy.onSpin = () => {
        if (immediateAfter < 0) peer.send([request(id++ & 0xffff, 0)]);
      };
      peer.send([request(1, 1)]);
      await waitFor(() => immediateAfter >= 0, "the setImmediate callback");
      assert.ok(immediateAfter > 1, "messages were caught by spinning");
      assert.ok(immediateAfter <= 100, `the loop ran after ${immediateAfter} messages`);
    } finally {
      done();
    }
  });

  it("answers many pipelined requests in order with polling on both ends", async () => {
    const [a, b] = socketPair();
    const client = new Connection(a, { pollUs: 50 });
    const server = new Connection(b, { pollUs: 50 });
    try {
      server.onRequest((f, c) => c.reply(f, f.body));
      const n = 500;
      const replies = await Promise.all(
        Array.from({ length: n }, (_, i) => client.request(READ, u8(i & 0xff, i >> 8))),
      );
      for (const [i, r] of replies.entries()) assert.deepEqual([...r.body], [i & 0xff, i >> 8]);
    } finally {
      client.close();
      server.close();
    }
  });

  it("rejects a pollUs outside 0..1e6", () => {
    const [a, b] = socketPair();
    try {
      assert.throws(() => new Connection(a, { pollUs: -1 }), RangeError);
      assert.throws(() => new Connection(a, { pollUs: 1.5 }), RangeError);
      assert.throws(() => new Connection(a, { pollUs: 2_000_000 }), RangeError);
    } finally {
      a.close();
      b.close();
    }
  });
});
