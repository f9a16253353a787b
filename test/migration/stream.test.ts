import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  encodeRecord,
  IncomingStream,
  OutgoingStream,
  RecordKind,
  STREAM_MAGIC,
} from "../../src/server/migration/stream.js";

const kinds = [RecordKind.PRECOPY, RecordKind.FRAMEWORK, RecordKind.DEVICE] as const;

function drain(out: OutgoingStream, sizes: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let i = 0;
  while (out.pending > 0) pieces.push(out.take(sizes[i++ % sizes.length]!));
  return pieces;
}

describe("migration data stream", () => {
  it("round-trips records whatever the read and write sizes", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom(...kinds),
            payload: fc.uint8Array({ maxLength: 300 }),
          }),
          { maxLength: 8 },
        ),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 5 }),
        (records, sizes) => {
          const out = new OutgoingStream();
          for (const [i, r] of records.entries()) {
            out.pushRecord(r.kind, r.payload);
            // A new segment may start at any record boundary (each saving state has one).
            if (i % 3 === 1) out.push(STREAM_MAGIC);
          }
          out.pushRecord(RecordKind.END);
          const total = out.pending;
          const incoming = new IncomingStream();
          for (const piece of drain(out, sizes)) {
            assert.ok(!incoming.ended);
            incoming.write(piece);
          }
          assert.equal(out.sent, total);
          assert.ok(incoming.ended);
          assert.deepEqual(
            incoming.records.map((r) => ({ kind: r.kind, payload: r.payload })),
            records.map((r) => ({ kind: r.kind, payload: r.payload })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("takeWhole ends at a record boundary; after startSegment the rest is a stream by itself", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 220, max: 500 }),
        (chunks, reads, max) => {
          const out = new OutgoingStream();
          for (const c of chunks) out.pushRecord(RecordKind.PRECOPY, c);
          const read: Uint8Array[] = [];
          for (let i = 0; i < reads && out.pending > 0; i++) read.push(out.takeWhole(max));
          const readBytes = read.reduce((n, r) => n + r.byteLength, 0);
          for (const r of read) assert.ok(r.byteLength <= max);
          out.startSegment();
          out.pushRecord(RecordKind.DEVICE, Uint8Array.of(9));
          out.pushRecord(RecordKind.END);
          const rest = out.take(out.pending);
          // Only what came after the pre-copy reads: the unread chunks and the device.
          const alone = new IncomingStream();
          alone.write(rest);
          assert.ok(alone.ended);
          const readChunks = chunks.length - (alone.records.length - 1);
          assert.deepEqual(
            alone.records.map((r) => [...r.payload]),
            [...chunks.slice(readChunks).map((c) => [...c]), [9]],
          );
          // Everything: every chunk once.
          const whole = new IncomingStream();
          for (const r of read) whole.write(r);
          whole.write(rest);
          assert.ok(whole.ended);
          assert.deepEqual(
            whole.records.map((r) => [...r.payload]),
            [...chunks.map((c) => [...c]), [9]],
          );
          assert.ok(readBytes <= reads * max);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("takes fewer bytes than asked only when the queue runs dry", () => {
    const out = new OutgoingStream();
    out.pushRecord(RecordKind.DEVICE, new Uint8Array(100));
    const all = out.pending;
    assert.equal(out.take(10).byteLength, 10);
    assert.equal(out.take(1000).byteLength, all - 10);
    assert.equal(out.take(1000).byteLength, 0);
  });

  it("refuses what is not a stream of ours, and stays failed", () => {
    const bad = new IncomingStream();
    assert.throws(() => bad.write(Uint8Array.of(0x56, 0x54, 0x00)), { code: "EINVAL" });
    assert.throws(() => bad.write(STREAM_MAGIC), { code: "EINVAL" });
    assert.ok(bad.failure);

    const unknown = new IncomingStream();
    unknown.write(STREAM_MAGIC);
    assert.throws(
      () => unknown.write(Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0)),
      /unknown record kind 7/,
    );

    const huge = new IncomingStream(1024);
    huge.write(STREAM_MAGIC);
    assert.throws(
      () => huge.write(Uint8Array.of(3, 0, 0, 0, 0, 8, 0, 0)),
      /exceeds the 1024-byte limit/,
    );

    const capped = new IncomingStream(1024, 64);
    capped.write(STREAM_MAGIC);
    capped.write(encodeRecord(RecordKind.PRECOPY, new Uint8Array(8))); // 24 bytes so far
    assert.equal(capped.records.length, 1);
    assert.throws(() => capped.write(new Uint8Array(64 - 24 + 1)), {
      code: "EFBIG",
      message: /more than the device's limit of 64 bytes/,
    });
    assert.throws(() => capped.write(Uint8Array.of(1)), { code: "EFBIG" });
    assert.equal(capped.records.length, 0, "a failed stream lets go of its records");

    const after = new IncomingStream();
    const out = new OutgoingStream();
    out.pushRecord(RecordKind.END);
    after.write(out.take(out.pending));
    assert.ok(after.ended);
    assert.throws(() => after.write(Uint8Array.of(1)), /after the end/);
  });
});
