import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_COMMAND,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/constants.js";
import { socketPair } from "../../src/sys/index.js";
import { MessageReader, type ReaderOptions } from "../../src/transport/message-reader.js";
import { openFdCount } from "../helpers/fds.js";
import {
  assertFdConnectedTo,
  CollectingSink,
  concatBytes,
  pattern,
  RecordingSocket,
  rawMessage,
  sendAll,
  tick,
  waitFor,
} from "./util.js";

function setup(options?: ReaderOptions) {
  const [a, b] = socketPair();
  const rec = new RecordingSocket(b);
  const sink = new CollectingSink();
  const reader = new MessageReader(rec, sink, options);
  reader.start();
  const done = () => {
    reader.stop();
    a.close();
    b.close();
  };
  return { peer: a, rec, sink, reader, done };
}

const CMD = VFIO_USER_F_TYPE_COMMAND;

describe("MessageReader", () => {
  it("reassembles messages that arrive one byte per recv", async () => {
    const { peer, rec, sink, done } = setup();
    try {
      const msgs = [
        rawMessage(1, 9, CMD, pattern(40, 1)),
        rawMessage(2, 13, CMD | VFIO_USER_F_NO_REPLY),
        rawMessage(0xffff, 10, VFIO_USER_F_TYPE_REPLY, pattern(3, 2), { error: 0 }),
      ];
      const wire = concatBytes(msgs);
      for (let i = 0; i < wire.byteLength; i++) {
        assert.equal(peer.send([wire.subarray(i, i + 1)]), 1);
        await waitFor(() => rec.bytesReceived === i + 1, `byte ${i}`);
      }
      assert.ok(
        rec.recvs.every((r) => r.bytes === 1),
        "each recv saw exactly one byte",
      );
      assert.equal(sink.frames.length, 3);
      assert.deepEqual(
        sink.frames.map((f) => [f.header.id, f.header.command, f.header.size, f.header.flags]),
        [
          [1, 9, 56, CMD],
          [2, 13, 16, CMD | VFIO_USER_F_NO_REPLY],
          [0xffff, 10, 19, VFIO_USER_F_TYPE_REPLY],
        ],
      );
      assert.deepEqual(sink.frames[0]!.body, pattern(40, 1));
      assert.equal(sink.frames[1]!.body.byteLength, 0);
      assert.deepEqual(sink.frames[2]!.body, pattern(3, 2));
    } finally {
      done();
    }
  });

  it("delivers many messages received in one recv, in order", async () => {
    const { peer, rec, sink, done } = setup();
    try {
      const msgs = Array.from({ length: 200 }, (_, i) =>
        rawMessage(i, 10, CMD, pattern(i % 37, i + 1)),
      );
      assert.equal(peer.send([concatBytes(msgs)]), concatBytes(msgs).byteLength);
      await waitFor(() => sink.frames.length === 200, "200 frames");
      assert.equal(rec.recvs.length, 1, "one recv carried all of them");
      sink.frames.forEach((f, i) => {
        assert.equal(f.header.id, i);
        assert.deepEqual(f.body, pattern(i % 37, i + 1));
      });
    } finally {
      done();
    }
  });

  it("pause() from onFrame: the frames of that recv still come, then nothing until resume()", async () => {
    const { peer, rec, sink, reader, done } = setup();
    try {
      const first = Array.from({ length: 5 }, (_, i) => rawMessage(i, 10, CMD, pattern(8, i)));
      const onFrame = sink.onFrame.bind(sink);
      sink.onFrame = (f) => {
        onFrame(f);
        if (f.header.id === 1) reader.pause();
      };
      assert.equal(peer.send([concatBytes(first)]), concatBytes(first).byteLength);
      await waitFor(() => sink.frames.length === 5, "the 5 frames of the first recv");
      assert.ok(reader.isPaused);
      const second = Array.from({ length: 3 }, (_, i) =>
        rawMessage(5 + i, 10, CMD, pattern(8, 5 + i)),
      );
      assert.equal(peer.send([concatBytes(second)]), concatBytes(second).byteLength);
      for (let i = 0; i < 20; i++) await tick();
      assert.equal(sink.frames.length, 5, "nothing is received while paused");
      assert.equal(rec.recvs.length, 1);
      reader.resume();
      await waitFor(() => sink.frames.length === 8, "the rest after resume()");
      assert.deepEqual(
        sink.frames.map((f) => f.header.id),
        [0, 1, 2, 3, 4, 5, 6, 7],
      );
    } finally {
      done();
    }
  });

  it("attaches fds to the message they were sent with, even when one recv spans several", async () => {
    const { peer, rec, sink, done } = setup();
    const [x, y] = socketPair();
    const [u, v] = socketPair();
    try {
      // Three sendmsgs queued before the reader runs: the kernel may glue the first
      // two into one recv (it stops right after the fd-carrying one).
      assert.ok(peer.send([rawMessage(1, 2, CMD, pattern(24))]) > 0);
      assert.ok(peer.send([rawMessage(2, 2, CMD, pattern(8))], [x.fd, u.fd]) > 0);
      assert.ok(peer.send([rawMessage(3, 2, CMD, pattern(5))]) > 0);
      await waitFor(() => sink.frames.length === 3, "3 frames");
      // Linux glues the fd-less first message in front of the fd-carrying one.
      assert.deepEqual(rec.recvs[0], { bytes: 40 + 24, fds: 2 });
      assert.deepEqual(
        sink.frames.map((f) => f.fds.length),
        [0, 2, 0],
      );
      const [fx, fu] = sink.frames[1]!.fds as [number, number];
      assert.ok(await assertFdConnectedTo(fx, y, "through x"));
      assert.ok(await assertFdConnectedTo(fu, v, "through u"));
      closeSync(fx);
      closeSync(fu);
    } finally {
      for (const s of [x, y, u, v]) s.close();
      done();
    }
  });

  it("does not give fds to a message in progress when a later one carried them", async () => {
    const { peer, rec, sink, done } = setup();
    const [x, y] = socketPair();
    try {
      const m1 = rawMessage(1, 2, CMD, pattern(10));
      const m2 = rawMessage(2, 2, CMD, pattern(10));
      assert.ok(peer.send([m1.subarray(0, 5)]) > 0);
      await waitFor(() => rec.bytesReceived === 5, "m1 head");
      // The rest of m1 and then m2 with an fd, queued together: one recv may return
      // both, and the fd must go to m2, not to m1 that was in progress.
      assert.ok(peer.send([m1.subarray(5)]) > 0);
      assert.ok(peer.send([m2], [x.fd]) > 0);
      await waitFor(() => sink.frames.length === 2, "2 frames");
      assert.deepEqual(rec.recvs[1], { bytes: 21 + 26, fds: 1 }, "one recv: m1 tail + m2");
      assert.equal(sink.frames[0]!.fds.length, 0);
      assert.equal(sink.frames[1]!.fds.length, 1);
      assert.ok(await assertFdConnectedTo(sink.frames[1]!.fds[0]!, y, "m2"));
      closeSync(sink.frames[1]!.fds[0]!);
    } finally {
      x.close();
      y.close();
      done();
    }
  });

  it("keeps fds that arrive in the middle of a message on that message", async () => {
    const { peer, rec, sink, done } = setup();
    const [x, y] = socketPair();
    try {
      const m = rawMessage(7, 2, CMD, pattern(100));
      assert.ok(peer.send([m.subarray(0, 30)]) > 0);
      await waitFor(() => rec.bytesReceived === 30, "first part");
      assert.ok(peer.send([m.subarray(30)], [x.fd]) > 0);
      assert.ok(peer.send([rawMessage(8, 2, CMD)]) > 0);
      await waitFor(() => sink.frames.length === 2, "2 frames");
      assert.equal(sink.frames[0]!.fds.length, 1);
      assert.equal(sink.frames[1]!.fds.length, 0);
      closeSync(sink.frames[0]!.fds[0]!);
    } finally {
      x.close();
      y.close();
      done();
    }
  });

  it("never overwrites bodies it handed out, across slab changes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        async (sizes, cuts) => {
          const { peer, rec, sink, done } = setup({ slabSize: 256 });
          try {
            const msgs = sizes.map((n, i) => rawMessage(i, 9, CMD, pattern(n, i + 7)));
            const wire = concatBytes(msgs);
            let off = 0;
            let k = 0;
            while (off < wire.byteLength) {
              const end = Math.min(wire.byteLength, off + cuts[k++ % cuts.length]!);
              await sendAll(peer, wire.subarray(off, end));
              await waitFor(() => rec.bytesReceived === end, "chunk consumed");
              off = end;
            }
            assert.equal(sink.frames.length, sizes.length);
            sink.frames.forEach((f, i) => {
              assert.equal(f.header.id, i);
              assert.deepEqual(f.body, pattern(sizes[i]!, i + 7));
            });
          } finally {
            done();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("receives a message larger than the slab into its own buffer, intact", async () => {
    const { peer, sink, done } = setup();
    try {
      const body = pattern(1 << 20, 3);
      const small = rawMessage(1, 9, CMD, pattern(20, 4));
      const big = rawMessage(2, 10, CMD, body);
      const wire = concatBytes([small, big, small]);
      const sending = sendAll(peer, wire);
      await waitFor(() => sink.frames.length === 3, "3 frames");
      await sending;
      assert.equal(sink.frames[1]!.header.size, 16 + (1 << 20));
      assert.deepEqual(sink.frames[1]!.body, body);
      assert.deepEqual(sink.frames[2]!.body, pattern(20, 4));
    } finally {
      done();
    }
  });

  it("reports a clean EOF at a message boundary as an end without error", async () => {
    const { peer, sink, done } = setup();
    try {
      peer.send([rawMessage(1, 9, CMD)]);
      peer.close();
      await waitFor(() => sink.ended, "end");
      assert.equal(sink.frames.length, 1);
      assert.equal(sink.error, undefined);
    } finally {
      done();
    }
  });

  it("reports EOF in the middle of a message, closing the fds held for it", async () => {
    const before = openFdCount();
    const { peer, sink, done } = setup();
    const [x, y] = socketPair();
    try {
      const m = rawMessage(1, 9, CMD, pattern(50));
      peer.send([m.subarray(0, 20)], [x.fd]);
      x.close();
      y.close();
      peer.close();
      await waitFor(() => sink.ended, "end");
      assert.equal(sink.error?.code, "ECONNRESET");
      assert.match(
        sink.error!.message,
        /peer disconnected mid-message \(received 20 of 66 bytes\)/,
      );
      done();
      assert.equal(openFdCount(), before, "no fd leaked");
    } finally {
      done();
    }
  });

  for (const [what, size, code, re] of [
    ["smaller than the header", 15, "EPROTO", /message size 15 is less than the 16-byte header/],
    ["over the limit", 4097, "EMSGSIZE", /message size 4097 exceeds the limit of 4096 bytes/],
  ] as const) {
    it(`stops with a framing violation for a size ${what}, closing fds`, async () => {
      const before = openFdCount();
      const { peer, sink, done } = setup({ maxMessageSize: 4096 });
      const [x, y] = socketPair();
      try {
        peer.send([rawMessage(1, 9, CMD)]);
        peer.send([rawMessage(2, 9, CMD, new Uint8Array(0), { size })], [x.fd]);
        x.close();
        y.close();
        await waitFor(() => sink.ended, "end");
        assert.equal(sink.frames.length, 1, "the good message before it was delivered");
        assert.equal(sink.error?.code, code);
        assert.match(sink.error!.message, re);
        done();
        assert.equal(openFdCount(), before, "no fd leaked");
      } finally {
        done();
      }
    });
  }

  for (const [maxFds, sent] of [
    [1, 2],
    [1, 3],
    [2, 3],
    [0, 1],
  ] as const) {
    it(`stops when a message carries ${sent} fds with maxFds ${maxFds}, leaking none`, async () => {
      const before = openFdCount();
      const { peer, sink, done } = setup({ maxFds });
      const pairs = Array.from({ length: sent }, () => socketPair());
      try {
        peer.send(
          [rawMessage(1, 9, CMD)],
          pairs.map(([p]) => p.fd),
        );
        for (const [p, q] of pairs) {
          p.close();
          q.close();
        }
        await waitFor(() => sink.ended, "end");
        assert.equal(sink.error?.code, "EPROTO");
        assert.match(sink.error!.message, /MSG_CTRUNC|more than the limit/);
        assert.equal(sink.frames.length, 0);
        done();
        assert.equal(openFdCount(), before, "no fd leaked");
      } finally {
        done();
      }
    });
  }

  it("rejects a message whose type is neither command nor reply", async () => {
    const { peer, sink, done } = setup();
    try {
      peer.send([rawMessage(1, 9, 0x7)]);
      await waitFor(() => sink.ended, "end");
      assert.equal(sink.error?.code, "EPROTO");
      assert.match(sink.error!.message, /type 7, neither command nor reply/);
    } finally {
      done();
    }
  });

  it("applies new limits to later messages", async () => {
    const { peer, sink, reader, done } = setup({ maxMessageSize: 64 });
    try {
      reader.setLimits({ maxMessageSize: 200 });
      peer.send([rawMessage(1, 9, CMD, pattern(150))]);
      await waitFor(() => sink.frames.length === 1, "frame");
      assert.throws(() => reader.setLimits({ maxFds: 254 }), RangeError);
      assert.throws(() => reader.setLimits({ maxMessageSize: 15 }), RangeError);
    } finally {
      done();
    }
  });

  it("stops delivering once stopped from inside the sink", async () => {
    const [a, b] = socketPair();
    const frames: number[] = [];
    let ended = false;
    const reader: MessageReader = new MessageReader(b, {
      onFrame: (f) => {
        frames.push(f.header.id);
        reader.stop();
      },
      onEnd: () => {
        ended = true;
      },
    });
    try {
      reader.start();
      a.send([concatBytes([rawMessage(1, 9, CMD), rawMessage(2, 9, CMD)])]);
      await waitFor(() => frames.length > 0, "first frame");
      for (let i = 0; i < 5; i++) await tick();
      assert.deepEqual(frames, [1]);
      assert.equal(ended, false, "stop() does not report an end");
      assert.ok(reader.ended);
    } finally {
      a.close();
      b.close();
    }
  });
});
