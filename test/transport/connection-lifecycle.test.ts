import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { describe, it } from "node:test";
import { VfioError } from "../../src/errors.js";
import { VFIO_USER_F_ERROR } from "../../src/protocol/constants.js";
import { decodeHeader } from "../../src/protocol/header.js";
import { socketPair } from "../../src/sys/index.js";
import { openFdCount } from "../helpers/fds.js";
import {
  CMD,
  connectionPair,
  MAP,
  pattern,
  READ,
  REPLY,
  rawConnection,
  rawMessage,
  recvExactly,
  tick,
  u8,
  WRITE,
  waitFor,
} from "./util.js";

describe("Connection lifecycle", () => {
  it("closes on a peer disconnect mid-message: error event, pending requests rejected", async () => {
    const { conn, peer, done } = rawConnection();
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
      const { conn, peer, done } = rawConnection({ maxMessageSize: 4096 });
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
    const { conn, peer, done } = rawConnection();
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
    const { conn, peer, done } = rawConnection();
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
    const { conn, peer, done } = rawConnection();
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
    const { conn, peer, done } = rawConnection();
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
    // No cap on our own queue here: this test is about queueing itself.
    const { client, server, done } = connectionPair({ maxMessageSize: 1 << 20, maxQueuedBytes: 0 });
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

  it("end() closes only after queued messages reached the kernel, so the peer reads them all", async () => {
    const { conn, peer, done } = rawConnection();
    try {
      const total = 20 * (16 + 100_000);
      for (let i = 1; i <= 20; i++) conn.notify(WRITE, pattern(100_000, i));
      assert.ok(conn.queuedBytes > 0, "more than the socket holds is queued");
      const ended = conn.end(10_000);
      assert.equal(conn.closed, false, "still open while data waits");
      const got = await recvExactly(peer, total);
      await ended;
      assert.ok(conn.closed);
      for (let i = 0; i < 20; i++) {
        const at = i * (16 + 100_000);
        assert.equal(decodeHeader(got.bytes.subarray(at)).size, 16 + 100_000);
        assert.deepEqual(got.bytes.subarray(at + 16, at + 16 + 100_000), pattern(100_000, i + 1));
      }
      await waitFor(() => peer.recv(new Uint8Array(16), 0)?.bytes === 0, "EOF after the data");
      await conn.end(); // already closed: resolves at once
    } finally {
      done();
    }
  });

  it("end() gives up on a peer that does not read after maxWaitMs", async () => {
    const { conn, done } = rawConnection();
    try {
      for (let i = 1; i <= 20; i++) conn.notify(WRITE, pattern(100_000, i));
      assert.ok(conn.queuedBytes > 0);
      await conn.end(30);
      assert.ok(conn.closed, "closed although the peer read nothing");
    } finally {
      done();
    }
  });

  it("has no fd leaks across many requests with fds", async () => {
    const { client, server, done } = connectionPair();
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
    const { conn, peer, done } = rawConnection();
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
