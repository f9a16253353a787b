import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { measureLatency, summarizeLatency } from "../../src/drivers/latency.js";

describe("summarizeLatency", () => {
  it("takes nearest-rank percentiles in microseconds", () => {
    const ns = Array.from({ length: 100 }, (_, i) => (100 - i) * 1000); // 1..100 us, unsorted
    const s = summarizeLatency(ns);
    assert.equal(s.iterations, 100);
    assert.equal(s.p50Us, 50);
    assert.equal(s.p99Us, 99);
    assert.equal(s.minUs, 1);
    assert.equal(s.maxUs, 100);
    assert.equal(s.meanUs, 50.5);
    assert.equal(Math.round(s.opsPerSec), Math.round(1e6 / 50.5));
  });

  it("is all zeros for no samples", () => {
    assert.deepEqual(summarizeLatency([]), {
      iterations: 0,
      p50Us: 0,
      p99Us: 0,
      meanUs: 0,
      minUs: 0,
      maxUs: 0,
      opsPerSec: 0,
    });
  });

  it("orders min <= p50 <= p99 <= max and keeps the mean in range, for any samples", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1e9 }), { minLength: 1, maxLength: 300 }),
        (ns) => {
          const s = summarizeLatency(ns);
          assert.ok(s.minUs <= s.p50Us && s.p50Us <= s.p99Us && s.p99Us <= s.maxUs);
          assert.ok(s.meanUs >= s.minUs - 1e-9 && s.meanUs <= s.maxUs + 1e-9);
          assert.equal(s.minUs, Math.min(...ns) / 1000);
        },
      ),
    );
  });
});

describe("measureLatency", () => {
  it("runs the operation the given number of times, in order", async () => {
    const seen: number[] = [];
    const s = await measureLatency(5, async (i) => {
      seen.push(i);
    });
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(s.iterations, 5);
  });
});
