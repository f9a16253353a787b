/**
 * The trace proxy over real sockets in a temp dir: frames arrive byte for byte,
 * fds stay usable, the log names every command, and closing one side closes both.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { renderLspci } from "../../src/cli/lspci/index.js";
import { readLspciDevice } from "../../src/cli/lspci/source.js";
import {
  formatRecordText,
  type SessionEvent,
  TraceProxy,
  type TraceRecord,
} from "../../src/cli/trace/index.js";
import { VfioUserClient } from "../../src/client/vfio-user-client.js";
import { instantiateBuiltinDevice } from "../../src/devices/index.js";
import { dmaRoundTrip, EduDriver } from "../../src/drivers/edu/index.js";
import { Errno } from "../../src/errors.js";
import {
  Command,
  commandName,
  encodeErrorReply,
  encodeMessage,
  encodeReplyMessage,
  encodeRequestMessage,
  VFIO_USER_F_TYPE_COMMAND,
} from "../../src/protocol/index.js";
import { VfioUserServer } from "../../src/server/index.js";
import {
  connectUnix,
  listenUnix,
  MemFd,
  type UnixListener,
  type UnixSocket,
} from "../../src/sys/index.js";
import { MessageReader, MessageWriter } from "../../src/transport/index.js";
import { CollectingSink, pattern } from "../transport/util.js";
import { tempDir, waitFor } from "./helpers.js";

/** Collects everything a raw socket receives: bytes and fds, and whether EOF came. */
class RawPeer {
  bytes = new Uint8Array(0);
  fds: number[] = [];
  eof = false;

  constructor(readonly socket: UnixSocket) {
    const buf = new Uint8Array(65536);
    socket.onReadable(() => {
      for (;;) {
        let r: ReturnType<UnixSocket["recv"]>;
        try {
          r = socket.recv(buf, 16);
        } catch {
          this.eof = true;
          socket.onReadable(null);
          return;
        }
        if (r === null) return;
        if (r.bytes === 0) {
          this.eof = true;
          socket.onReadable(null);
          return;
        }
        const next = new Uint8Array(this.bytes.length + r.bytes);
        next.set(this.bytes);
        next.set(buf.subarray(0, r.bytes), this.bytes.length);
        this.bytes = next;
        this.fds.push(...r.fds);
      }
    });
  }

  send(msg: Uint8Array, fds: number[] = []): void {
    assert.equal(this.socket.send([msg], fds), msg.length);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

function startProxy(listen: string, connect: string) {
  const records: TraceRecord[] = [];
  const events: SessionEvent[] = [];
  const proxy = TraceProxy.listen({
    listen,
    connect,
    onRecord: (r) => records.push({ ...r, body: r.body.slice() }),
    onEvent: (e) => events.push(e),
  });
  return { proxy, records, events };
}

describe("trace proxy: raw frames", () => {
  const tmp = tempDir();
  let listener: UnixListener;
  let serverSide: RawPeer | undefined;

  before(() => {
    listener = listenUnix(tmp.path("server.sock"));
    listener.onConnection((sock) => {
      serverSide = new RawPeer(sock as UnixSocket);
    });
  });

  after(() => {
    listener.close();
    tmp.cleanup();
  });

  it("forwards frames unchanged with usable fds, logs them, and closes both sides", async () => {
    const { proxy, records, events } = startProxy(tmp.path("proxy.sock"), tmp.path("server.sock"));
    const client = new RawPeer(connectUnix(tmp.path("proxy.sock")));
    await waitFor(() => serverSide !== undefined, "the proxied connection");
    const server = serverSide!;

    const memfd = MemFd.create("trace-test", 4096);
    new Uint8Array(memfd.map(0, 4096)).set([0xde, 0xad, 0xbe, 0xef], 100);
    const requests = [
      encodeRequestMessage(0, Command.VFIO_USER_VERSION, { major: 0, minor: 1 }),
      encodeRequestMessage(1, Command.VFIO_USER_DMA_MAP, {
        argsz: 32,
        flags: 3,
        offset: 0n,
        address: 0x10000n,
        size: 4096n,
      }),
      encodeMessage({ id: 7, command: 99 }, Uint8Array.of(1, 2, 3)),
    ];
    client.send(requests[0]!);
    client.send(requests[1]!, [memfd.fd]);
    client.send(requests[2]!);
    const sent = concat(requests);
    await waitFor(() => server.bytes.length >= sent.length, "requests at the server");
    assert.deepEqual(server.bytes, sent, "the server receives exactly the client's bytes");
    assert.equal(server.fds.length, 1, "the memfd travelled with DMA_MAP");
    const seen = new Uint8Array(new MemFd(server.fds[0]!).map(0, 4096));
    assert.deepEqual(Array.from(seen.subarray(100, 104)), [0xde, 0xad, 0xbe, 0xef]);
    seen[200] = 0x5a;
    assert.equal(new Uint8Array(memfd.map(0, 4096))[200], 0x5a, "same memory both ways");

    const replies = [
      encodeReplyMessage(0, Command.VFIO_USER_VERSION, { major: 0, minor: 1 }),
      encodeErrorReply(1, Command.VFIO_USER_DMA_MAP, Errno.EINVAL),
      encodeErrorReply(7, 99, Errno.ENOSYS),
    ];
    for (const r of replies) server.send(r);
    const back = concat(replies);
    await waitFor(() => client.bytes.length >= back.length, "replies at the client");
    assert.deepEqual(client.bytes, back, "the client receives exactly the server's bytes");

    assert.deepEqual(
      records.map((r) => `${r.direction} ${commandName(r.header.command)} ${r.header.id}`),
      [
        "c2s VFIO_USER_VERSION 0",
        "c2s VFIO_USER_DMA_MAP 1",
        "c2s UNKNOWN(99) 7",
        "s2c VFIO_USER_VERSION 0",
        "s2c VFIO_USER_DMA_MAP 1",
        "s2c UNKNOWN(99) 7",
      ],
    );
    assert.equal(records[1]!.fds, 1);
    assert.match(records[2]!.decodeError ?? "", /ENOSYS/, "undecodable but forwarded");
    for (const r of records.slice(3)) assert.ok(r.latencyMs !== undefined && r.latencyMs >= 0);
    const text = records.map(formatRecordText).join("\n");
    assert.match(text, /VFIO_USER_DMA_MAP request id=1 .*fds=1 \| .*address=0x10000 size=0x1000/);
    assert.match(text, /VFIO_USER_DMA_MAP error id=1 .*errno=EINVAL\(22\)/);
    assert.match(text, /raw=\[07 00 63 00 13 00 00 00/);

    client.socket.close();
    await waitFor(() => server.eof, "EOF at the server once the client left");
    await proxy.idle();
    assert.deepEqual(
      events.map((e) => e.kind),
      ["open", "close"],
    );
    for (const fd of server.fds) new MemFd(fd).close();
    memfd.close();
    server.socket.close();
    serverSide = undefined;

    // And the other way round: the server leaving closes the client.
    const client2 = new RawPeer(connectUnix(tmp.path("proxy.sock")));
    await waitFor(() => serverSide !== undefined, "the second connection");
    serverSide!.socket.close();
    await waitFor(() => client2.eof, "EOF at the client once the server left");
    client2.socket.close();
    await proxy.close();
  });

  it("closes the client when the server cannot be reached", async () => {
    const { proxy, events } = startProxy(tmp.path("proxy2.sock"), tmp.path("nobody.sock"));
    const client = new RawPeer(connectUnix(tmp.path("proxy2.sock")));
    await waitFor(() => client.eof, "EOF at the client");
    assert.equal(events[0]?.kind, "error");
    assert.match(events[0]!.message, /cannot reach the server: no socket at/);
    client.socket.close();
    await proxy.close();
  });
});

describe("trace proxy: a real server and client", () => {
  const tmp = tempDir();
  let server: VfioUserServer;
  let device: ReturnType<typeof instantiateBuiltinDevice>["device"];

  before(() => {
    device = instantiateBuiltinDevice("edu").device;
    server = new VfioUserServer(device).listen(tmp.path("edu.sock"));
  });

  after(async () => {
    await server.close();
    device.close();
    tmp.cleanup();
  });

  it("lets lspci read the device through the proxy and names every command", async () => {
    const { proxy, records } = startProxy(tmp.path("trace.sock"), tmp.path("edu.sock"));
    const client = await VfioUserClient.connect(tmp.path("trace.sock"));
    const text = renderLspci(await readLspciDevice(client.device), { verbose: 1 });
    await client.close();
    await proxy.idle();
    await proxy.close();
    assert.match(text, /^00:00\.0 Unclassified device \[00ff\]: Device 1234:11e8 \(rev 10\)/);
    assert.match(text, /\tMemory at <unassigned> \(32-bit, non-prefetchable\).* \[size=1M\]/);
    const names = new Set(records.map((r) => commandName(r.header.command)));
    for (const n of [
      "VFIO_USER_VERSION",
      "VFIO_USER_DEVICE_GET_INFO",
      "VFIO_USER_DEVICE_GET_REGION_INFO",
      "VFIO_USER_REGION_READ",
    ]) {
      assert.ok(names.has(n), `${n} in the trace`);
    }
    assert.deepEqual(
      records.filter((r) => r.decodeError !== undefined),
      [],
      "every message decodes",
    );
    const replies = records.filter((r) => r.direction === "s2c");
    assert.ok(replies.length > 0 && replies.every((r) => r.latencyMs !== undefined));
  });

  it("changes nothing: lspci and the edu driver give the same results with and without it", async () => {
    // What a client observes, run once directly and once through the proxy.
    const observe = async (path: string) => {
      const client = await VfioUserClient.connect(path);
      // Device state outlives a client (as the spec asks); start both runs from reset.
      await client.device.reset();
      const lspci = renderLspci(await readLspciDevice(client.device), { verbose: 2, hex: 3 });
      const driver = await EduDriver.open(client.device);
      const factorials: number[] = [];
      for (let n = 0; n <= 12; n++) factorials.push(await driver.factorial(n));
      const data = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xff);
      const viaFd = await dmaRoundTrip(driver, data, "fd");
      const viaMsg = await dmaRoundTrip(driver, data, "message");
      await driver.close();
      await client.close();
      await server.idle();
      return { lspci, factorials, fd: viaFd.returnedCrc32, msg: viaMsg.returnedCrc32 };
    };
    const direct = await observe(tmp.path("edu.sock"));
    const { proxy, records } = startProxy(tmp.path("trace3.sock"), tmp.path("edu.sock"));
    const proxied = await observe(tmp.path("trace3.sock"));
    await proxy.idle();
    await proxy.close();
    assert.deepEqual(proxied, direct);
    assert.equal(direct.fd, direct.msg, "both DMA paths brought the data back");
    assert.ok(records.length > 50, "the proxied run went through the proxy");
  });

  it("traces the twin socket: DMA through DMA_READ/DMA_WRITE still works", async () => {
    const { proxy, records, events } = startProxy(tmp.path("trace2.sock"), tmp.path("edu.sock"));
    await server.idle();
    const client = await VfioUserClient.connect(tmp.path("trace2.sock"), { twinSocket: true });
    const driver = await EduDriver.open(client.device);
    const data = Uint8Array.from({ length: 256 }, (_, i) => (i * 7) & 0xff);
    const trip = await dmaRoundTrip(driver, data, "message");
    await driver.close();
    await client.close();
    await proxy.idle();
    await proxy.close();
    assert.equal(trip.ok, true, "the data made the round trip through the proxied twin socket");
    assert.ok(events.some((e) => e.kind === "twin"));
    const twin = records.filter((r) => r.channel === "twin");
    const seen = twin.map((r) => `${r.direction} ${commandName(r.header.command)}`);
    assert.ok(seen.includes("s2c VFIO_USER_DMA_READ"), seen.join(", "));
    assert.ok(seen.includes("c2s VFIO_USER_DMA_READ"));
    assert.ok(seen.includes("s2c VFIO_USER_DMA_WRITE"));
    assert.ok(twin.filter((r) => r.direction === "c2s").every((r) => r.latencyMs !== undefined));
  });
});

describe("trace proxy: flow control", () => {
  it("stops reading from a sender while the receiver lags, then delivers everything", async () => {
    const tmp = tempDir();
    let serverSock: UnixSocket | undefined;
    const listener = listenUnix(tmp.path("slow.sock"));
    listener.onConnection((sock) => {
      serverSock = sock as UnixSocket; // not read from until later
    });
    const high = 256 * 1024;
    const proxy = TraceProxy.listen({
      listen: tmp.path("p.sock"),
      connect: tmp.path("slow.sock"),
      onRecord: () => {},
      highWaterBytes: high,
    });
    const client = connectUnix(tmp.path("p.sock"));
    try {
      await waitFor(() => serverSock !== undefined, "the proxied connection");
      const writer = new MessageWriter(client, (err) => assert.fail(err.message));
      // 6 MiB: far more than the two kernel socket buffers plus the high-water mark.
      const count = 96;
      const size = 64 * 1024;
      for (let i = 0; i < count; i++)
        writer.write(i, 99, VFIO_USER_F_TYPE_COMMAND, 0, pattern(size, i));
      await waitFor(() => proxy.queuedBytes >= high, "the proxy reaching its high-water mark");
      // Give a proxy that ignored the mark every chance to read the rest.
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 20));
      // One receive may overshoot the mark by at most a slab (64 KiB) or one message.
      assert.ok(
        proxy.queuedBytes <= high + size + 16 + 64 * 1024,
        `the proxy holds ${proxy.queuedBytes} bytes`,
      );
      assert.ok(writer.queuedBytes > 0, "the sender is held back");

      const sink = new CollectingSink();
      const reader = new MessageReader(serverSock!, sink, { maxMessageSize: 1 << 20 });
      reader.start();
      await waitFor(() => sink.frames.length === count, "every frame at the server");
      reader.stop();
      sink.frames.forEach((f, i) => {
        assert.equal(f.header.id, i);
        assert.deepEqual(f.body, pattern(size, i), `body of frame ${i}`);
      });
      await waitFor(() => writer.queuedBytes === 0 && proxy.queuedBytes === 0, "all drained");
    } finally {
      client.close();
      serverSock?.close();
      await proxy.close();
      listener.close();
      tmp.cleanup();
    }
  });
});
