import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { describe, it } from "node:test";
import type { VfioError } from "../../src/errors.js";
import { VFIO_USER_F_TYPE_COMMAND } from "../../src/protocol/constants.js";
import { decodeHeader } from "../../src/protocol/header.js";
import { type StreamSocket, socketPair } from "../../src/sys/index.js";
import { MessageReader } from "../../src/transport/message-reader.js";
import { MessageWriter } from "../../src/transport/message-writer.js";
import { openFdCount } from "../helpers/fds.js";
import {
  assertFdConnectedTo,
  CollectingSink,
  pattern,
  RecordingSocket,
  recvExactly,
  waitFor,
} from "./util.js";

const CMD = VFIO_USER_F_TYPE_COMMAND;

function noError(err: VfioError): void {
  throw err;
}

/** A real socket whose sendmsg takes at most `budget` bytes (the rest of the chunks is left). */
class ShortSendSocket extends RecordingSocket {
  fdsSent = 0;
  constructor(
    inner: StreamSocket,
    public budget: number,
  ) {
    super(inner);
  }
  override send(chunks: readonly Uint8Array[], fds?: readonly number[]): number {
    const take: Uint8Array[] = [];
    let left = this.budget;
    for (const c of chunks) {
      if (left <= 0) break;
      take.push(c.byteLength <= left ? c : c.subarray(0, left));
      left -= c.byteLength;
    }
    const n = super.send(take, fds);
    if (n > 0 && fds) this.fdsSent += fds.length;
    return n;
  }
}

describe("MessageWriter", () => {
  it("writes header and body in one sendmsg when the socket has room", async () => {
    const [a, b] = socketPair();
    try {
      const w = new MessageWriter(a, noError);
      w.write(0x1234, 9, CMD, 0, pattern(20));
      w.write(7, 13, CMD, 0, [pattern(3, 5), new Uint8Array(0), pattern(4, 6)]);
      assert.equal(w.queuedBytes, 0);
      const got = await recvExactly(b, 36 + 23);
      assert.deepEqual(decodeHeader(got.bytes), {
        id: 0x1234,
        command: 9,
        size: 36,
        flags: CMD,
        error: 0,
      });
      assert.deepEqual(got.bytes.subarray(16, 36), pattern(20));
      assert.equal(decodeHeader(got.bytes.subarray(36)).size, 23);
      assert.deepEqual(got.bytes.subarray(52, 55), pattern(3, 5));
      assert.deepEqual(got.bytes.subarray(55), pattern(4, 6));
    } finally {
      a.close();
      b.close();
    }
  });

  it("sends fds once, with the first byte, when a large message is written in parts", async () => {
    const [a, b] = socketPair();
    const [x, y] = socketPair();
    try {
      const w = new MessageWriter(a, noError);
      const body = pattern(1 << 20, 9);
      w.write(1, 2, CMD, 0, body, [x.fd]);
      assert.ok(w.queuedBytes > 0, "the kernel took only part of 1 MiB");
      // Read raw: every fd that arrives in any recv is counted.
      const got = await recvExactly(b, 16 + body.byteLength, 8);
      assert.equal(got.fds.length, 1, "fds were not resent with a continuation");
      assert.deepEqual(got.bytes.subarray(16), body);
      assert.ok(await assertFdConnectedTo(got.fds[0]!, y, "x"));
      closeSync(got.fds[0]!);
      await waitFor(() => w.queuedBytes === 0, "queue drained");
    } finally {
      for (const s of [a, b, x, y]) s.close();
    }
  });

  it("keeps order under backpressure and fds on their own message", async () => {
    const [a, b] = socketPair();
    const [x, y] = socketPair();
    const rec = new RecordingSocket(b);
    const sink = new CollectingSink();
    try {
      const w = new MessageWriter(a, noError);
      const count = 40;
      for (let i = 0; i < count; i++) {
        w.write(i, 10, CMD, 0, pattern(200_000 + i, i), i === 17 ? [x.fd] : []);
      }
      assert.ok(w.queuedBytes > 4_000_000, "most of it is queued, nothing read yet");
      const reader = new MessageReader(rec, sink, { maxMessageSize: 1 << 20 });
      reader.start();
      await waitFor(() => sink.frames.length === count, "all frames");
      reader.stop();
      sink.frames.forEach((f, i) => {
        assert.equal(f.header.id, i);
        assert.equal(f.body.byteLength, 200_000 + i);
        assert.deepEqual(f.body, pattern(200_000 + i, i));
        assert.equal(f.fds.length, i === 17 ? 1 : 0, `fds of message ${i}`);
      });
      assert.ok(await assertFdConnectedTo(sink.frames[17]!.fds[0]!, y, "17"));
      closeSync(sink.frames[17]!.fds[0]!);
      assert.equal(w.queuedBytes, 0);
    } finally {
      for (const s of [a, b, x, y]) s.close();
    }
  });

  it("batches queued small messages and still ties fds to the right one", async () => {
    const [a, b] = socketPair();
    const [x, y] = socketPair();
    const sink = new CollectingSink();
    try {
      const w = new MessageWriter(a, noError);
      // Fill the socket so everything after is queued and flushed later.
      w.write(0, 10, CMD, 0, pattern(400_000));
      for (let i = 1; i <= 30; i++) w.write(i, 9, CMD, 0, pattern(i), i % 10 === 5 ? [x.fd] : []);
      const reader = new MessageReader(b, sink);
      reader.start();
      await waitFor(() => sink.frames.length === 31, "all frames");
      reader.stop();
      sink.frames.forEach((f, i) => {
        assert.equal(f.header.id, i);
        assert.equal(f.fds.length, i % 10 === 5 ? 1 : 0, `fds of message ${i}`);
      });
      for (const f of sink.frames) for (const fd of f.fds) closeSync(fd);
    } finally {
      for (const s of [a, b, x, y]) s.close();
    }
  });

  it("finishes a small message the socket took only part of, fds sent once", async () => {
    const [a, b] = socketPair();
    const [x, y] = socketPair();
    // AF_UNIX takes a message this small whole or not at all; a socket that takes at most
    // `budget` bytes per sendmsg shows the writer's handling of a split small message.
    const limited = new ShortSendSocket(a, 1_000);
    const sink = new CollectingSink();
    try {
      const w = new MessageWriter(limited, noError);
      w.write(0, 9, CMD, 0, pattern(2_984, 100), [x.fd]);
      assert.equal(w.queuedBytes, 2_000, "the rest waits for writability");
      for (let i = 1; i <= 5; i++) w.write(i, 9, CMD, 0, pattern(500, 100 + i));
      limited.budget = Number.POSITIVE_INFINITY;
      const reader = new MessageReader(b, sink);
      reader.start();
      await waitFor(() => sink.frames.length === 6, "all frames");
      reader.stop();
      sink.frames.forEach((f, i) => {
        assert.equal(f.header.id, i);
        assert.deepEqual(f.body, i === 0 ? pattern(2_984, 100) : pattern(500, 100 + i));
      });
      assert.deepEqual(
        sink.frames.map((f) => f.fds.length),
        [1, 0, 0, 0, 0, 0],
      );
      assert.equal(limited.fdsSent, 1, "the fd went with the first part only");
      assert.ok(await assertFdConnectedTo(sink.frames[0]!.fds[0]!, y, "x"));
      closeSync(sink.frames[0]!.fds[0]!);
      assert.equal(w.queuedBytes, 0);
      // The writer is back on its fast path: a later small message goes out at once.
      w.write(6, 9, CMD, 0, pattern(40, 106));
      assert.equal(w.queuedBytes, 0);
    } finally {
      for (const s of [a, b, x, y]) s.close();
    }
  });

  it("closes fds handed over with closeFdsAfterSend, sent or dropped", async () => {
    const [a, b] = socketPair();
    try {
      const before = openFdCount();
      const w = new MessageWriter(a, noError);
      const [x1, y1] = socketPair();
      w.write(1, 2, CMD, 0, pattern(8), [x1.detach()], true);
      y1.close();
      assert.equal(openFdCount(), before, "sent fd closed at once");
      w.write(2, 2, CMD, 0, pattern(1 << 20));
      const [x2, y2] = socketPair();
      w.write(3, 2, CMD, 0, pattern(8), [x2.detach()], true);
      y2.close();
      assert.equal(openFdCount(), before + 1, "queued fd still open");
      w.close();
      assert.equal(openFdCount(), before, "dropped fd closed");
      const got = await recvExactly(b, 24, 4);
      for (const fd of got.fds) closeSync(fd);
    } finally {
      a.close();
      b.close();
    }
  });

  it("reports a broken socket once and drops later writes", async () => {
    const [a, b] = socketPair();
    const errors: VfioError[] = [];
    try {
      const w = new MessageWriter(a, (e) => errors.push(e));
      b.close();
      w.write(1, 2, CMD, 0, pattern(8));
      w.write(2, 2, CMD, 0, pattern(8));
      assert.equal(errors.length, 1);
      assert.ok(["EPIPE", "ECONNRESET"].includes(errors[0]!.code), errors[0]!.code);
    } finally {
      a.close();
    }
  });

  it("refuses messages it cannot frame", () => {
    const [a, b] = socketPair();
    try {
      const w = new MessageWriter(a, noError);
      assert.throws(() => w.write(1, 2, CMD, 0, new Uint8Array(0), new Array(254).fill(0)), /253/);
    } finally {
      a.close();
      b.close();
    }
  });
});
