import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { describe, it } from "node:test";
import { VfioError } from "../../src/errors.js";
import { VFIO_USER_F_ERROR, VFIO_USER_F_NO_REPLY } from "../../src/protocol/constants.js";
import { decodeHeader } from "../../src/protocol/header.js";
import { socketPair } from "../../src/sys/index.js";
import { type Frame, ReplyError } from "../../src/transport/index.js";
import { openFdCount } from "../helpers/fds.js";
import {
  assertFdConnectedTo,
  CMD,
  concatBytes,
  connectionPair,
  MAP,
  pattern,
  READ,
  REPLY,
  rawConnection,
  rawMessage,
  recvExactly,
  u8,
  WRITE,
  waitFor,
} from "./util.js";

describe("Connection", () => {
  it("round-trips a request and its reply", async () => {
    const { client, server, done } = connectionPair();
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
    const { client, server, done } = connectionPair();
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
    const { conn, peer, done } = rawConnection();
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
    const { client, server, done } = connectionPair();
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
    const { client, server, done } = connectionPair();
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
    const { conn, peer, done } = rawConnection();
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
    const { conn, peer, done } = rawConnection({ requestTimeoutMs: 5 });
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
    const { conn, peer, done } = rawConnection();
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
    const { conn, peer, done } = rawConnection();
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
    const { client, server, done } = connectionPair();
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
    const { client, server, done } = connectionPair({ maxMessageSize: (1 << 20) + 64 });
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
});
