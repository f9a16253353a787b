import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { describe, it } from "node:test";
import { VfioError } from "../../src/errors.js";
import {
  Command,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_COMMAND,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/constants.js";
import { decodeHeader } from "../../src/protocol/header.js";
import { socketPair } from "../../src/sys/index.js";
import { Connection, type Frame, ReplyError } from "../../src/transport/index.js";
import { openFdCount } from "../helpers/fds.js";
import {
  assertFdConnectedTo,
  concatBytes,
  pattern,
  rawMessage,
  recvExactly,
  tick,
  waitFor,
} from "./util.js";

const {
  VFIO_USER_REGION_READ: READ,
  VFIO_USER_REGION_WRITE: WRITE,
  VFIO_USER_DMA_MAP: MAP,
} = Command;
const CMD = VFIO_USER_F_TYPE_COMMAND;
const REPLY = VFIO_USER_F_TYPE_REPLY;

/** Two Connections over a socketpair. */
function pair(options = {}) {
  const [a, b] = socketPair();
  const client = new Connection(a, options);
  const server = new Connection(b, options);
  return {
    client,
    server,
    done: () => {
      client.close();
      server.close();
    },
  };
}

/** A Connection facing a raw socket we drive by hand. */
function raw(options = {}) {
  const [a, b] = socketPair();
  const conn = new Connection(a, options);
  return {
    conn,
    peer: b,
    done: () => {
      conn.close();
      b.close();
    },
  };
}

const u8 = (...xs: number[]) => Uint8Array.from(xs);

describe("Connection", () => {
  it("round-trips a request and its reply", async () => {
    const { client, server, done } = pair();
    try {
      server.onRequest((f, conn) => {
        assert.equal(f.header.command, READ);
        conn.reply(f, concatBytes([f.body, u8(0xaa)]));
      });
      const reply = await client.request(READ, u8(1, 2, 3));
      assert.equal(reply.header.command, READ);
      assert.equal(reply.header.flags, REPLY);
      assert.deepEqual(reply.body, u8(1, 2, 3, 0xaa));
      assert.equal(client.pendingRequests, 0);
    } finally {
      done();
    }
  });

  it("settles pipelined requests by id when replies come out of order", async () => {
    const { client, server, done } = pair();
    try {
      const held: Frame[] = [];
      server.onRequest((f) => held.push(f));
      const promises = Array.from({ length: 50 }, (_, i) => client.request(WRITE, u8(i)));
      await waitFor(() => held.length === 50, "50 requests");
      assert.equal(client.pendingRequests, 50);
      for (const f of held.reverse()) server.reply(f, u8(f.body[0]! * 2));
      const replies = await Promise.all(promises);
      replies.forEach((r, i) => {
        assert.deepEqual(r.body, u8(i * 2));
      });
    } finally {
      done();
    }
  });

  it("hands every command to the handler even when the peer reuses a message id", async () => {
    const { conn, peer, done } = raw();
    try {
      const seen: Frame[] = [];
      conn.onRequest((f, c) => {
        seen.push(f);
        c.reply(f, f.body);
      });
      peer.send([concatBytes([rawMessage(5, READ, CMD, u8(1)), rawMessage(5, READ, CMD, u8(2))])]);
      const got = await recvExactly(peer, 2 * 17);
      assert.deepEqual(
        seen.map((f) => [f.header.id, f.body[0]]),
        [
          [5, 1],
          [5, 2],
        ],
      );
      const h1 = decodeHeader(got.bytes);
      const h2 = decodeHeader(got.bytes.subarray(17));
      assert.deepEqual([h1.id, h1.flags, got.bytes[16]], [5, REPLY, 1]);
      assert.deepEqual([h2.id, h2.flags, got.bytes[33]], [5, REPLY, 2]);
    } finally {
      done();
    }
  });

  it("sends notifications with NO_REPLY, keeps no reply slot, and never replies to them", async () => {
    const { client, server, done } = pair();
    try {
      const seen: Frame[] = [];
      server.onRequest((f, conn) => {
        seen.push(f);
        conn.reply(f, u8(f.header.command)); // a no-op for NO_REPLY commands
      });
      client.notify(WRITE, u8(1));
      assert.equal(client.pendingRequests, 0);
      const r = await client.request(READ);
      assert.deepEqual(r.body, u8(READ));
      assert.equal(seen.length, 2);
      assert.equal(seen[0]!.header.flags, CMD | VFIO_USER_F_NO_REPLY);
      assert.equal(client.droppedReplies, 0, "no reply came back for the notification");
    } finally {
      done();
    }
  });

  it("rejects with a ReplyError carrying the peer's errno", async () => {
    const { client, server, done } = pair();
    try {
      server.onRequest((f, conn) => conn.replyError(f, 22));
      await assert.rejects(client.request(MAP, pattern(32)), (e: unknown) => {
        assert.ok(e instanceof ReplyError);
        assert.ok(e instanceof VfioError);
        assert.equal(e.code, "EINVAL");
        assert.equal(e.command, MAP);
        assert.match(e.message, /VFIO_USER_DMA_MAP .* failed on the peer: EINVAL/);
        return true;
      });
    } finally {
      done();
    }
  });

  it("writes error replies as a bare header with the ERROR flag and errno", async () => {
    const { conn, peer, done } = raw();
    try {
      conn.onRequest((f, c) => c.replyError(f, 5));
      peer.send([rawMessage(77, READ, CMD, pattern(24))]);
      const got = await recvExactly(peer, 16);
      assert.deepEqual(decodeHeader(got.bytes), {
        id: 77,
        command: READ,
        size: 16,
        flags: REPLY | VFIO_USER_F_ERROR,
        error: 5,
      });
    } finally {
      done();
    }
  });

  it("times out with ETIMEDOUT and drops the late reply", async () => {
    const { conn, peer, done } = raw({ requestTimeoutMs: 5 });
    try {
      const p = conn.request(READ, u8(1));
      await assert.rejects(p, (e: VfioError) => {
        assert.equal(e.code, "ETIMEDOUT");
        assert.match(
          e.message,
          /VFIO_USER_REGION_READ \(message id \d+\) got no reply within 5 ms/,
        );
        return true;
      });
      assert.equal(conn.pendingRequests, 0);
      const req = await recvExactly(peer, 17);
      const id = decodeHeader(req.bytes).id;
      // The next request must not get the timed-out id while its reply may still come.
      const next = conn.request(READ, u8(2), { timeoutMs: 0 });
      const req2 = await recvExactly(peer, 17);
      const id2 = decodeHeader(req2.bytes).id;
      assert.notEqual(id2, id);
      peer.send([
        concatBytes([rawMessage(id, READ, REPLY, u8(9)), rawMessage(id2, READ, REPLY, u8(8))]),
      ]);
      const r = await next;
      assert.deepEqual(r.body, u8(8));
      assert.equal(conn.droppedReplies, 1);
    } finally {
      done();
    }
  });

  it("drops (and counts) a reply with an unknown id, closing its fds", async () => {
    const before = openFdCount();
    const { conn, peer, done } = raw();
    const [x, y] = socketPair();
    try {
      peer.send([rawMessage(999, READ, REPLY, u8(1))], [x.fd]);
      x.close();
      y.close();
      await waitFor(() => conn.droppedReplies === 1, "dropped reply");
      assert.equal(conn.closed, false);
      done();
      assert.equal(openFdCount(), before);
    } finally {
      done();
    }
  });

  it("rejects a request whose reply names another command with EPROTO", async () => {
    const { conn, peer, done } = raw();
    try {
      const p = conn.request(READ);
      const req = await recvExactly(peer, 16);
      peer.send([rawMessage(decodeHeader(req.bytes).id, WRITE, REPLY)]);
      await assert.rejects(p, { code: "EPROTO" });
    } finally {
      done();
    }
  });

  it("passes fds with requests and replies, each on its own message", async () => {
    const { client, server, done } = pair();
    const [x, y] = socketPair();
    const [u, v] = socketPair();
    try {
      server.onRequest((f, conn) => {
        if (f.header.command === MAP) {
          assert.equal(f.fds.length, 1);
          assertFdConnectedTo(f.fds[0]!, y, "map").then((ok) => {
            closeSync(f.fds[0]!);
            conn.reply(f, u8(ok ? 1 : 0), { fds: [u.fd] });
          });
        } else {
          assert.equal(f.fds.length, 0);
          conn.reply(f);
        }
      });
      const [r1, r2, r3] = await Promise.all([
        client.request(READ),
        client.request(MAP, pattern(32), { fds: [x.fd] }),
        client.request(READ),
      ]);
      assert.equal(r1.fds.length + r3.fds.length, 0);
      assert.deepEqual(r2.body, u8(1));
      assert.equal(r2.fds.length, 1);
      assert.ok(await assertFdConnectedTo(r2.fds[0]!, v, "reply fd"));
      closeSync(r2.fds[0]!);
    } finally {
      for (const s of [x, y, u, v]) s.close();
      done();
    }
  });

  it("carries a 1 MiB request and reply intact across partial reads and writes", async () => {
    const { client, server, done } = pair({ maxMessageSize: (1 << 20) + 64 });
    try {
      const big = pattern(1 << 20, 42);
      server.onRequest((f, conn) => {
        assert.deepEqual(f.body, big);
        conn.reply(f, [f.body.subarray(0, 1000), f.body.subarray(1000)]);
      });
      const r = await client.request(WRITE, big);
      assert.equal(r.header.size, 16 + (1 << 20));
      assert.deepEqual(r.body, big);
    } finally {
      done();
    }
  });

  it("closes on a peer disconnect mid-message: error event, pending requests rejected", async () => {
    const { conn, peer, done } = raw();
    try {
      const errors: VfioError[] = [];
      conn.on("error", (e) => errors.push(e));
      const closed = new Promise<VfioError | undefined>((r) => conn.once("close", r));
      const p = conn.request(READ);
      peer.send([rawMessage(1, READ, CMD, pattern(40)).subarray(0, 30)]);
      peer.close();
      await assert.rejects(p, (e: VfioError) => {
        assert.equal(e.code, "ECONNRESET");
        assert.match(e.message, /aborted: main socket: peer disconnected mid-message/);
        return true;
      });
      const err = await closed;
      assert.equal(err?.code, "ECONNRESET");
      assert.equal(errors.length, 1);
      assert.equal(errors[0], err);
      assert.ok(conn.closed);
    } finally {
      done();
    }
  });

  for (const [what, size, code] of [
    ["below 16", 8, "EPROTO"],
    ["over the limit", 1 << 16, "EMSGSIZE"],
  ] as const) {
    it(`closes with a clear error on a message size ${what}`, async () => {
      const { conn, peer, done } = raw({ maxMessageSize: 4096 });
      try {
        const closed = new Promise<VfioError | undefined>((r) => conn.once("close", r));
        const p = conn.request(READ);
        peer.send([rawMessage(1, READ, CMD, new Uint8Array(0), { size })]);
        const err = await closed;
        assert.equal(err?.code, code);
        assert.match(err!.message, /framing violation: message size/);
        await assert.rejects(p, { code });
        assert.equal(conn.closeError, err);
      } finally {
        done();
      }
    });
  }

  it("reports a clean peer EOF as close without error", async () => {
    const { conn, peer, done } = raw();
    try {
      const closed = new Promise<VfioError | undefined>((r) => conn.once("close", r));
      const p = conn.request(READ);
      await recvExactly(peer, 16); // closing with unread data would be a reset instead
      peer.close();
      assert.equal(await closed, undefined);
      await assert.rejects(p, { code: "ECONNRESET", message: /peer closed the connection/ });
    } finally {
      done();
    }
  });

  it("close() rejects pending requests with ENOTCONN, emits close, and releases the socket", async () => {
    const before = openFdCount();
    const { conn, peer, done } = raw();
    try {
      const closed = new Promise<VfioError | undefined>((r) => conn.once("close", r));
      const p = conn.request(READ, u8(1), { timeoutMs: 60_000 });
      conn.close();
      await assert.rejects(p, { code: "ENOTCONN", message: /aborted: connection closed/ });
      assert.equal(await closed, undefined);
      await assert.rejects(conn.request(READ), { code: "ENOTCONN" });
      assert.throws(() => conn.notify(WRITE), { code: "ENOTCONN" });
      peer.close();
      assert.equal(openFdCount(), before, "both socket fds closed");
    } finally {
      done();
    }
  });

  it("answers ENOSYS when no handler is set", async () => {
    const { conn, peer, done } = raw();
    try {
      peer.send([rawMessage(3, READ, CMD)]);
      const got = await recvExactly(peer, 16);
      assert.deepEqual(decodeHeader(got.bytes), {
        id: 3,
        command: READ,
        size: 16,
        flags: REPLY | VFIO_USER_F_ERROR,
        error: 38,
      });
      assert.equal(conn.closed, false);
    } finally {
      done();
    }
  });

  it("closes the connection when the handler throws", async () => {
    const { conn, peer, done } = raw();
    try {
      conn.onRequest(() => {
        throw new VfioError("EFAULT", "device bug");
      });
      const closed = new Promise<VfioError | undefined>((r) => conn.once("close", r));
      peer.send([rawMessage(3, READ, CMD)]);
      const err = await closed;
      assert.equal(err?.code, "EFAULT");
      assert.match(err!.message, /request handler threw on VFIO_USER_REGION_READ: device bug/);
    } finally {
      done();
    }
  });

  it("queues many large messages under backpressure and delivers them in order", async () => {
    const { client, server, done } = pair({ maxMessageSize: 1 << 20 });
    try {
      const got: number[] = [];
      let ok = true;
      server.onRequest((f) => {
        got.push(f.header.id);
        ok &&= f.body.byteLength === 500_000 && f.body[0] === (got.length & 0xff);
      });
      for (let i = 1; i <= 30; i++) {
        const body = pattern(500_000, i);
        body[0] = i & 0xff;
        client.notify(WRITE, body);
      }
      assert.ok(client.queuedBytes > 0, "writes were queued");
      await waitFor(() => got.length === 30, "30 commands");
      assert.ok(ok, "bodies intact");
      assert.deepEqual(
        got,
        [...got].sort((a, b) => a - b),
        "in send order",
      );
      assert.equal(client.queuedBytes, 0);
    } finally {
      done();
    }
  });

  it("has no fd leaks across many requests with fds", async () => {
    const { client, server, done } = pair();
    const [x, y] = socketPair();
    try {
      server.onRequest((f, conn) => {
        closeSync(f.fds[0]!);
        conn.reply(f);
      });
      await client.request(MAP, u8(0), { fds: [x.fd] });
      const before = openFdCount();
      for (let i = 0; i < 100; i++) await client.request(MAP, u8(i), { fds: [x.fd] });
      assert.equal(openFdCount(), before);
    } finally {
      x.close();
      y.close();
      done();
    }
  });

  it("allocates ids that wrap and skip ids still in flight", async () => {
    const { conn, peer, done } = raw();
    try {
      const first = conn.request(READ);
      const ids: number[] = [];
      const h = await recvExactly(peer, 16);
      const held = decodeHeader(h.bytes).id;
      // 70000 sequential notifications walk the whole id space and wrap; none may
      // reuse the id of the request still waiting.
      for (let i = 0; i < 70000; i++) {
        conn.notify(WRITE);
        const m = await recvExactly(peer, 16);
        ids.push(decodeHeader(m.bytes).id);
        if (i % 4096 === 0) await tick();
      }
      assert.equal(held, 0);
      assert.ok(!ids.includes(held));
      const wrap = ids.indexOf(0xffff);
      assert.deepEqual(ids.slice(wrap - 1, wrap + 3), [0xfffe, 0xffff, 1, 2], "wraps, skipping 0");
      peer.send([rawMessage(held, READ, REPLY)]);
      await first;
    } finally {
      done();
    }
  });
});

describe("Connection in twin-socket mode", () => {
  it("server: our requests go on the twin; the client's commands still arrive on main", async () => {
    const [m1, m2] = socketPair();
    const [t1, t2] = socketPair();
    const server = new Connection(m1);
    server.attachTwin(t1, "server");
    const handled: number[] = [];
    server.onRequest((f, c) => {
      handled.push(f.header.command);
      c.reply(f, u8(7));
    });
    try {
      const p = server.request(Command.VFIO_USER_DMA_READ, pattern(24));
      const onTwin = await recvExactly(t2, 40);
      assert.equal(decodeHeader(onTwin.bytes).command, Command.VFIO_USER_DMA_READ);
      assert.equal(m2.recv(new Uint8Array(64), 0), null, "nothing on the main socket");
      t2.send([
        rawMessage(decodeHeader(onTwin.bytes).id, Command.VFIO_USER_DMA_READ, REPLY, u8(5)),
      ]);
      assert.deepEqual((await p).body, u8(5));
      // A client command on main is answered on main.
      m2.send([rawMessage(1, READ, CMD)]);
      const r = await recvExactly(m2, 17);
      assert.deepEqual([decodeHeader(r.bytes).flags, r.bytes[16]], [REPLY, 7]);
      assert.equal(t2.recv(new Uint8Array(64), 0), null, "nothing on the twin");
      assert.deepEqual(handled, [READ]);
    } finally {
      server.close();
      m2.close();
      t2.close();
    }
  });

  it("client: the server's commands arrive on the twin and are answered there", async () => {
    const [m1, m2] = socketPair();
    const [t1, t2] = socketPair();
    const client = new Connection(m1);
    client.attachTwin(t1, "client");
    client.onRequest((f, c) => c.reply(f, f.body.subarray(0, 2)));
    try {
      t2.send([rawMessage(9, Command.VFIO_USER_DMA_WRITE, CMD, u8(1, 2, 3))]);
      const r = await recvExactly(t2, 18);
      assert.deepEqual(decodeHeader(r.bytes), {
        id: 9,
        command: Command.VFIO_USER_DMA_WRITE,
        size: 18,
        flags: REPLY,
        error: 0,
      });
      const p = client.request(READ);
      const onMain = await recvExactly(m2, 16);
      assert.equal(decodeHeader(onMain.bytes).command, READ);
      assert.equal(t2.recv(new Uint8Array(64), 0), null, "nothing on the twin");
      m2.send([rawMessage(decodeHeader(onMain.bytes).id, READ, REPLY)]);
      await p;
    } finally {
      client.close();
      m2.close();
      t2.close();
    }
  });

  it("connects a twin-mode server and client end to end; either socket ending closes both", async () => {
    const [m1, m2] = socketPair();
    const [t1, t2] = socketPair();
    const server = new Connection(m1);
    const client = new Connection(m2);
    server.attachTwin(t1, "server");
    client.attachTwin(t2, "client");
    server.onRequest((f, c) => {
      // Serve a client command by doing "DMA" to the client first.
      server.request(Command.VFIO_USER_DMA_READ, f.body).then((dma) => c.reply(f, dma.body));
    });
    client.onRequest((f, c) => c.reply(f, concatBytes([f.body, u8(0xee)])));
    try {
      const r = await client.request(READ, u8(1, 2));
      assert.deepEqual(r.body, u8(1, 2, 0xee));
      const closed = new Promise<VfioError | undefined>((res) => client.once("close", res));
      const pending = client.request(READ, u8(3));
      await tick();
      server.close();
      // The server closed with that request unread: the client sees a reset.
      const err = await closed;
      assert.equal(err?.code, "ECONNRESET");
      assert.ok(client.closed);
      await assert.rejects(pending, { code: "ECONNRESET" });
    } finally {
      server.close();
      client.close();
    }
  });

  it("refuses a second twin and a twin on a closed connection", () => {
    const [m1, m2] = socketPair();
    const [t1, t2] = socketPair();
    const [s1, s2] = socketPair();
    const conn = new Connection(m1);
    try {
      conn.attachTwin(t1, "client");
      assert.throws(() => conn.attachTwin(s1, "client"), { code: "EALREADY" });
      conn.close();
      assert.throws(() => conn.attachTwin(s1, "client"), { code: "ENOTCONN" });
      assert.ok(s1.closed, "the refused socket was closed");
    } finally {
      for (const s of [m2, t2, s1, s2]) s.close();
    }
  });
});
