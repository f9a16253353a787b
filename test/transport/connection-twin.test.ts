import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VfioError } from "../../src/errors.js";
import { Command } from "../../src/protocol/constants.js";
import { decodeHeader } from "../../src/protocol/header.js";
import { socketPair } from "../../src/sys/index.js";
import { Connection } from "../../src/transport/index.js";
import {
  CMD,
  concatBytes,
  pattern,
  READ,
  REPLY,
  rawMessage,
  recvExactly,
  tick,
  u8,
} from "./util.js";

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
