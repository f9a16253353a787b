import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DirtyLog, type LoggedRange } from "../../src/server/index.js";

/** The obvious model: a set of dirty tracking pages, filtered by the logged ranges. */
class Model {
  readonly pages = new Set<bigint>();
  constructor(
    readonly pageSize: bigint,
    readonly ranges: readonly LoggedRange[],
  ) {}

  mark(iova: bigint, length: bigint): void {
    for (let a = iova; a < iova + length; a++) {
      const logged =
        this.ranges.length === 0 || this.ranges.some((r) => a >= r.iova && a < r.iova + r.length);
      if (logged) this.pages.add(a / this.pageSize);
    }
  }

  report(iova: bigint, length: bigint, ps: bigint): boolean[] {
    const bits: boolean[] = [];
    for (let b = 0n; b * ps < length; b++) {
      const lo = iova + b * ps;
      let dirty = false;
      for (let a = lo; a < lo + ps && a < iova + length && !dirty; a += 1n) {
        dirty = this.pages.has(a / this.pageSize);
      }
      bits.push(dirty);
    }
    for (const p of [...this.pages]) {
      if (p * this.pageSize >= iova && (p + 1n) * this.pageSize <= iova + length) {
        this.pages.delete(p);
      }
    }
    return bits;
  }
}

function bitsOf(bitmap: Uint8Array, n: number): boolean[] {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) out.push((bitmap[i >> 3]! & (1 << (i & 7))) !== 0);
  return out;
}

const SPACE = 1 << 16;
const pow2 = (lo: number, hi: number) =>
  fc.integer({ min: lo, max: hi }).map((e) => 1n << BigInt(e));

const op = fc.oneof(
  fc.record({
    kind: fc.constant("mark" as const),
    iova: fc.integer({ min: 0, max: SPACE - 1 }),
    length: fc.integer({ min: 1, max: 6000 }),
  }),
  fc.record({
    kind: fc.constant("report" as const),
    iova: fc.integer({ min: 0, max: SPACE - 1 }),
    length: fc.integer({ min: 1, max: 20000 }),
    pageSize: pow2(9, 14),
  }),
);

const rangesArb = fc
  .uniqueArray(fc.integer({ min: 0, max: 15 }), { maxLength: 3 })
  .map((slots) =>
    slots.map((s) => ({ iova: BigInt(s * 4096 + 100), length: BigInt(3000 + (s % 3) * 500) })),
  );

describe("DMA dirty log", () => {
  it("reports what a page-set model reports, at any report granularity, and clears what it hands over", () => {
    fc.assert(
      fc.property(pow2(12, 13), rangesArb, fc.array(op, { maxLength: 25 }), (ps, ranges, ops) => {
        const log = new DirtyLog(ps, ranges);
        const model = new Model(log.pageSize, log.ranges);
        for (const o of ops) {
          if (o.kind === "mark") {
            log.mark(BigInt(o.iova), BigInt(o.length));
            model.mark(BigInt(o.iova), BigInt(o.length));
          } else {
            const n = Math.ceil(o.length / Number(o.pageSize));
            const got = log.report(BigInt(o.iova), BigInt(o.length), o.pageSize);
            assert.equal(got.byteLength, Math.ceil(n / 64) * 8);
            assert.deepEqual(
              bitsOf(got, n),
              model.report(BigInt(o.iova), BigInt(o.length), o.pageSize),
            );
            // Bits past the range are zero (the spec's rule).
            assert.ok(
              bitsOf(got, got.byteLength * 8)
                .slice(n)
                .every((b) => !b),
            );
          }
          assert.equal(log.dirtyPages, model.pages.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("bounds its memory however widely the device writes: coarser, never hiding a write", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }), { minLength: 1, maxLength: 60 }),
        (maxChunks, writes) => {
          const log = new DirtyLog(4096n, [], maxChunks);
          const written = new Set<bigint>();
          for (const iova of writes) {
            log.mark(iova, 1n);
            written.add(iova);
            assert.ok(log.chunkCount <= maxChunks, `${log.chunkCount} chunks`);
          }
          // Every written byte's 4 KiB page is reported dirty, whatever the granularity.
          for (const iova of written) {
            const page = iova & ~4095n;
            const bits = log.report(page, 4096n, 4096n);
            assert.equal(bits[0]! & 1, 1, `the write at 0x${iova.toString(16)} is reported`);
            log.mark(iova, 1n); // a report hands a page over; put it back for the next check
          }
          // One report of everything hands every page over.
          log.report(0n, 1n << 52n, 1n << 30n);
          assert.equal(log.dirtyPages, 0);
        },
      ),
      { numRuns: 200 },
    );
    // Without pressure nothing changes: 4 KiB pages, exact reports.
    const roomy = new DirtyLog(4096n, [], 8);
    for (let i = 0n; i < 8n; i++) roomy.mark(i << 40n, 1n);
    assert.equal(roomy.trackingPageSize, 4096n);
    roomy.mark(9n << 40n, 1n); // a ninth chunk: coarser now, down to half, plus the new one
    assert.ok(roomy.trackingPageSize > 4096n);
    assert.ok(roomy.chunkCount <= 5, `${roomy.chunkCount} chunks`);
  });

  it("costs memory for what was written, not for the address space", () => {
    const log = new DirtyLog(4096n, []);
    log.mark(1n << 40n, 4096n * 3n);
    log.mark((1n << 40n) + (1n << 30n), 1n);
    assert.equal(log.dirtyPages, 4);
    const bitmap = log.report(1n << 40n, 4096n * 64n, 4096n);
    assert.deepEqual(bitsOf(bitmap, 4), [true, true, true, false]);
    assert.equal(log.dirtyPages, 1);
  });

  it("picks a page size in 4 KiB..1 GiB and refuses bad input", () => {
    assert.equal(new DirtyLog(512n, []).pageSize, 4096n);
    assert.equal(new DirtyLog(1n << 40n, []).pageSize, 1n << 30n);
    assert.equal(new DirtyLog(1n << 21n, []).pageSize, 1n << 21n);
    assert.throws(() => new DirtyLog(3000n, []), { code: "EINVAL" });
    assert.throws(() => new DirtyLog(4096n, [{ iova: 0n, length: 0n }]), { code: "EINVAL" });
    assert.throws(
      () =>
        new DirtyLog(4096n, [
          { iova: 0n, length: 8192n },
          { iova: 4096n, length: 4096n },
        ]),
      { code: "EINVAL" },
    );
    assert.throws(() => new DirtyLog(4096n, []).report(0n, 4096n, 1000n), { code: "EINVAL" });
  });
});
