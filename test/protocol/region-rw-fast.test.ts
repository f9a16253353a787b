/**
 * REGION_READ/REGION_WRITE have hand-written fast paths (fastRead, fastEncode) beside
 * the general Reader/Writer codec. The fast path may decline, but whatever it returns
 * must be exactly what the general one returns, and it must never accept a body the
 * general one rejects. These properties pin the two together.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type BodyCodec,
  type DecodeContext,
  decodeContext,
  encodeBody,
} from "../../src/protocol/codec.js";
import {
  type RegionAccess,
  type RegionData,
  regionReadCodec,
  regionWriteCodec,
} from "../../src/protocol/messages/region-rw.js";
import { ProtocolError } from "../../src/protocol/protocol-error.js";
import { Reader } from "../../src/protocol/reader.js";
import { Writer } from "../../src/protocol/writer.js";

const RUNS = 20_000;

/** The general decoder alone: what decodeBody does without a fast path. */
function general<T>(codec: BodyCodec<T>, body: Uint8Array, ctx: DecodeContext): T {
  const r = new Reader(body, "general");
  const v = codec.read(r, ctx);
  r.end();
  return v;
}

function generalEncode<T>(codec: BodyCodec<T>, v: T): Uint8Array {
  const w = Writer.alloc(codec.size(v, {}));
  codec.write(w, v, {});
  return w.finish();
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Offsets near the edges matter most: 0, 2^32 boundaries, the top 4 GiB. */
const offset = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 0xffffffffn, 1n << 32n, (1n << 64n) - (1n << 32n), (1n << 64n) - 1n),
  fc.bigInt({ min: (1n << 64n) - (1n << 33n), max: (1n << 64n) - 1n }),
);
const count = fc.oneof(u32, fc.integer({ min: 0, max: 64 }));

function framed(o: bigint, region: number, n: number, tail: Uint8Array): Uint8Array {
  const b = new Uint8Array(16 + tail.byteLength);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, o, true);
  dv.setUint32(8, region, true);
  dv.setUint32(12, n, true);
  b.set(tail, 16);
  return b;
}

const tail = fc.uint8Array({ maxLength: 48 });
/**
 * Bodies: consistent ones (an access header alone; a header whose count is its data's
 * length), ones with a random count field, and raw bytes.
 */
const body = fc.oneof(
  fc.tuple(offset, u32, count).map(([o, region, n]) => framed(o, region, n, new Uint8Array(0))),
  fc.tuple(offset, u32, tail).map(([o, region, t]) => framed(o, region, t.byteLength, t)),
  fc.tuple(offset, u32, count, tail).map(([o, region, n, t]) => framed(o, region, n, t)),
  fc.uint8Array({ maxLength: 64 }),
);

const ctx = fc
  .record({
    numFds: fc.constantFrom(0, 0, 0, 1),
    maxDataXferSize: fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }),
  })
  .map((c) => decodeContext(c.numFds, { maxDataXferSize: c.maxDataXferSize }));

const codecs: [string, BodyCodec<RegionAccess> | BodyCodec<RegionData>][] = [
  ["REGION_READ request", regionReadCodec.request],
  ["REGION_READ reply", regionReadCodec.reply],
  ["REGION_WRITE request", regionWriteCodec.request],
  ["REGION_WRITE reply", regionWriteCodec.reply],
];

describe("REGION_READ/WRITE: the fast codec agrees with the general one", () => {
  for (const [name, codec] of codecs) {
    it(`${name}: fastRead returns what read returns, or declines`, () => {
      const fastRead = codec.fastRead;
      assert.ok(fastRead !== undefined, "the codec has a fast path to pin");
      let taken = 0;
      fc.assert(
        fc.property(body, ctx, (b, c) => {
          const fast = fastRead(b, c);
          let slow: unknown;
          try {
            slow = general(codec as BodyCodec<unknown>, b, c);
          } catch (err) {
            assert.ok(err instanceof ProtocolError);
            assert.equal(fast, undefined, "fast accepted what the general codec rejects");
            return;
          }
          if (fast !== undefined) {
            taken++;
            assert.deepEqual(fast, slow);
          }
        }),
        { numRuns: RUNS },
      );
      assert.ok(taken > RUNS / 20, `the fast path was taken only ${taken} times`);
    });
  }

  it("fastEncode produces the general encoder's bytes, for accesses and data", () => {
    const access = fc.record({ offset, region: u32, count: u32 });
    const data = fc.record({ offset, region: u32, data: fc.uint8Array({ maxLength: 48 }) });
    for (const codec of [regionReadCodec.request, regionWriteCodec.reply]) {
      fc.assert(
        fc.property(access, (v) => {
          assert.deepEqual(encodeBody(codec, v), generalEncode(codec, v));
        }),
        { numRuns: RUNS / 4 },
      );
    }
    for (const codec of [regionReadCodec.reply, regionWriteCodec.request]) {
      fc.assert(
        fc.property(data, (v) => {
          assert.deepEqual(encodeBody(codec, v), generalEncode(codec, v));
        }),
        { numRuns: RUNS / 4 },
      );
    }
  });
});
