import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VfioError } from "../../src/errors.js";
import {
  type IovaRange,
  intersectIovaRanges,
  iovaRangesCover,
  normalizeIovaRanges,
} from "../../src/iommu/index.js";

/** Disjoint ranges inside [0, 255], so membership can be checked address by address. */
const smallRanges = fc
  .uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 2, maxLength: 12 })
  .map((points) => {
    const sorted = points.sort((a, b) => a - b);
    const out: IovaRange[] = [];
    for (let i = 0; i + 1 < sorted.length; i += 2) {
      out.push({ start: BigInt(sorted[i]!), end: BigInt(sorted[i + 1]!) });
    }
    return out;
  })
  .filter((r) => r.length > 0)
  .map((r) => {
    // Touching ranges are merged by normalize; keep them apart to stay disjoint.
    return r.filter((x, i) => i === 0 || x.start > r[i - 1]!.end + 1n);
  });

const covers = (ranges: readonly IovaRange[], a: bigint) =>
  ranges.some((r) => r.start <= a && a <= r.end);

describe("intersectIovaRanges", () => {
  it("holds exactly the addresses both lists hold", () => {
    fc.assert(
      fc.property(smallRanges, smallRanges, (a, b) => {
        const na = normalizeIovaRanges(a);
        const nb = normalizeIovaRanges(b);
        const common = Array.from({ length: 256 }, (_, i) => BigInt(i)).filter(
          (x) => covers(na, x) && covers(nb, x),
        );
        if (common.length === 0) {
          assert.throws(() => intersectIovaRanges(na, nb), VfioError);
          return;
        }
        const both = intersectIovaRanges(na, nb);
        for (let i = 0n; i < 256n; i++) {
          assert.equal(iovaRangesCover(both, i, i), covers(na, i) && covers(nb, i), `address ${i}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
