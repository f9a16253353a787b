import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VfioError } from "../../src/errors.js";
import { type Interval, IntervalMap } from "../../src/iommu/index.js";

type Entry = { start: bigint; size: bigint; value: number };

function spans<V>(it: Iterable<Interval<V>>): [bigint, bigint, V][] {
  return Array.from(it, (e) => [e.start, e.end, e.value]);
}

function errnoOfThrow(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof VfioError, `expected VfioError, got ${e}`);
    return e.code;
  }
}

describe("IntervalMap basics", () => {
  it("inserts, finds by contained address, and iterates in order", () => {
    const m = new IntervalMap<string>();
    m.insert(0x3000n, 0x1000n, "c");
    m.insert(0x1000n, 0x1000n, "a");
    m.insert(0x2000n, 0x1000n, "b");
    assert.equal(m.size, 3);
    assert.deepEqual(spans(m), [
      [0x1000n, 0x2000n, "a"],
      [0x2000n, 0x3000n, "b"],
      [0x3000n, 0x4000n, "c"],
    ]);
    assert.equal(m.find(0x1fffn)?.value, "a");
    assert.equal(m.find(0x2000n)?.value, "b");
    assert.equal(m.find(0xfffn), undefined);
    assert.equal(m.find(0x4000n), undefined);
    assert.equal(m.first()?.value, "a");
    assert.equal(m.last()?.value, "c");
  });

  it("rejects overlaps with EEXIST and empty intervals with EINVAL, leaving the map intact", () => {
    const m = new IntervalMap<number>();
    m.insert(100n, 10n, 1);
    assert.equal(
      errnoOfThrow(() => m.insert(105n, 1n, 2)),
      "EEXIST",
    );
    assert.equal(
      errnoOfThrow(() => m.insert(90n, 11n, 2)),
      "EEXIST",
    );
    assert.equal(
      errnoOfThrow(() => m.insert(109n, 5n, 2)),
      "EEXIST",
    );
    assert.equal(
      errnoOfThrow(() => m.insert(50n, 0n, 2)),
      "EINVAL",
    );
    m.insert(90n, 10n, 3); // touching is fine
    m.insert(110n, 10n, 4);
    assert.deepEqual(spans(m), [
      [90n, 100n, 3],
      [100n, 110n, 1],
      [110n, 120n, 4],
    ]);
  });

  it("findOverlap returns the lowest intersecting interval", () => {
    const m = new IntervalMap<number>();
    m.insert(10n, 10n, 1);
    m.insert(30n, 10n, 2);
    assert.equal(m.findOverlap(0n, 10n), undefined);
    assert.equal(m.findOverlap(0n, 11n)?.value, 1);
    assert.equal(m.findOverlap(19n, 100n)?.value, 1);
    assert.equal(m.findOverlap(20n, 10n), undefined);
    assert.equal(m.findOverlap(20n, 11n)?.value, 2);
    assert.equal(m.findOverlap(15n, 0n), undefined);
  });

  it("range yields intervals intersecting [a, b) in order", () => {
    const m = new IntervalMap<number>();
    for (let i = 0; i < 10; i++) m.insert(BigInt(i * 10), 5n, i);
    assert.deepEqual(
      Array.from(m.range(14n, 31n), (e) => e.value),
      [1, 2, 3],
    );
    assert.deepEqual(
      Array.from(m.range(15n, 20n), (e) => e.value),
      [],
    );
    assert.deepEqual(
      Array.from(m.range(0n, 1000n), (e) => e.value),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(Array.from(m.range(50n, 50n)), []);
  });

  it("remove and get work on exact starts only; clear empties", () => {
    const m = new IntervalMap<number>();
    m.insert(0n, 4n, 0);
    m.insert(4n, 4n, 1);
    assert.equal(m.remove(1n), undefined);
    assert.equal(m.get(1n), undefined);
    assert.equal(m.get(4n)?.value, 1);
    assert.equal(m.remove(4n)?.value, 1);
    assert.equal(m.size, 1);
    assert.equal(m.find(5n), undefined);
    m.clear();
    assert.equal(m.size, 0);
    assert.deepEqual(spans(m), []);
    assert.equal(m.first(), undefined);
  });

  it("handles keys beyond 2^64", () => {
    const m = new IntervalMap<number>();
    const big = 1n << 70n;
    m.insert(big, 1n << 20n, 7);
    assert.equal(m.find(big + 5n)?.value, 7);
  });
});

describe("IntervalMap model test (fast-check vs naive array)", () => {
  const addr = fc.bigInt({ min: 0n, max: 200n });
  const len = fc.bigInt({ min: -1n, max: 40n });
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ k: fc.constant("insert" as const), a: addr, s: len }) },
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constant("remove" as const), a: addr, s: len, i: fc.nat() }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant("removeExisting" as const),
        a: addr,
        s: len,
        i: fc.nat(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("find" as const), a: addr, s: len }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("overlap" as const), a: addr, s: len }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("range" as const), a: addr, s: len }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("get" as const), a: addr, s: len }) },
  );

  it("agrees with the model on every op and keeps the tree balanced", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80, size: "medium" }), (ops) => {
        const m = new IntervalMap<number>();
        let model: Entry[] = [];
        let next = 0;
        const intersects = (e: Entry, a: bigint, s: bigint) =>
          e.start < a + s && a < e.start + e.size;
        for (const o of ops) {
          switch (o.k) {
            case "insert": {
              const value = next++;
              const expected =
                o.s <= 0n
                  ? "EINVAL"
                  : model.some((e) => intersects(e, o.a, o.s))
                    ? "EEXIST"
                    : undefined;
              assert.equal(
                errnoOfThrow(() => m.insert(o.a, o.s, value)),
                expected,
              );
              if (expected === undefined) {
                model.push({ start: o.a, size: o.s, value });
                model.sort((x, y) => (x.start < y.start ? -1 : 1));
              }
              break;
            }
            case "remove":
            case "removeExisting": {
              const target =
                o.k === "remove" || model.length === 0 ? o.a : model[o.i % model.length]!.start;
              const hit = model.find((e) => e.start === target);
              assert.equal(m.remove(target)?.value, hit?.value);
              model = model.filter((e) => e !== hit);
              break;
            }
            case "find":
              assert.equal(m.find(o.a)?.value, model.find((e) => intersects(e, o.a, 1n))?.value);
              break;
            case "overlap":
              assert.equal(
                m.findOverlap(o.a, o.s)?.value,
                o.s <= 0n ? undefined : model.find((e) => intersects(e, o.a, o.s))?.value,
              );
              break;
            case "range": {
              const b = o.a + o.s * 3n;
              assert.deepEqual(
                Array.from(m.range(o.a, b), (e) => e.value),
                b <= o.a
                  ? []
                  : model.filter((e) => intersects(e, o.a, b - o.a)).map((e) => e.value),
              );
              break;
            }
            case "get":
              assert.equal(m.get(o.a)?.value, model.find((e) => e.start === o.a)?.value);
              break;
          }
          assert.equal(m.size, model.length);
          assert.deepEqual(
            spans(m),
            model.map((e) => [e.start, e.start + e.size, e.value]),
          );
          // AVL bound: height < 1.4405 * log2(n + 2)
          assert.ok(m.height <= Math.floor(1.4405 * Math.log2(model.length + 2)));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("IntervalMap lookups are logarithmic", () => {
  const n = 65535;
  let compares = 0;
  const m = new IntervalMap<number>({ onCompare: () => compares++ });
  // Ascending insertion is the worst case for an unbalanced tree (it degenerates
  // into a list), so it is the input that proves the balancing.
  for (let i = 0; i < n; i++) m.insert(BigInt(i) * 0x2000n, 0x1000n, i);
  const bound = Math.ceil(1.4405 * Math.log2(n + 2)); // AVL height bound, 24 for 65535

  function countOf(fn: () => unknown): number {
    compares = 0;
    fn();
    return compares;
  }

  it("keeps the tree height within the AVL bound", () => {
    assert.equal(m.size, n);
    assert.ok(m.height <= bound, `height ${m.height} > ${bound}`);
  });

  it("find, findOverlap, get and remove each compare at most ~1.44 log2 n keys", () => {
    let worst = 0;
    for (let i = 0; i < n; i += 97) {
      const base = BigInt(i) * 0x2000n;
      worst = Math.max(
        worst,
        countOf(() => assert.equal(m.find(base + 0x800n)?.value, i)),
      );
      worst = Math.max(
        worst,
        countOf(() => assert.equal(m.find(base + 0x1800n), undefined)),
      );
      worst = Math.max(
        worst,
        countOf(() =>
          assert.equal(
            m.findOverlap(base + 0x1000n, 0x2000n)?.value,
            i + 1 < n ? i + 1 : undefined,
          ),
        ),
      );
      worst = Math.max(
        worst,
        countOf(() => assert.equal(m.get(base)?.value, i)),
      );
    }
    assert.ok(worst <= bound, `worst lookup compared ${worst} keys, bound ${bound}`);
    // A list scan would need up to n comparisons; this is three orders of magnitude less.
    assert.ok(worst * 1000 < n);
  });

  it("range costs one descent plus the intervals yielded", () => {
    const c = countOf(() => {
      const got = Array.from(m.range(0x2000n * 30000n, 0x2000n * 30010n));
      assert.equal(got.length, 10);
    });
    assert.ok(c <= bound, `range descent compared ${c} keys`);
  });

  it("remove stays logarithmic and the tree stays balanced", () => {
    let worst = 0;
    for (let i = 0; i < n; i += 3) {
      worst = Math.max(
        worst,
        countOf(() => assert.ok(m.remove(BigInt(i) * 0x2000n))),
      );
    }
    assert.ok(worst <= bound + 1, `remove compared ${worst} keys`);
    assert.equal(m.size, n - Math.ceil(n / 3));
    assert.ok(m.height <= Math.ceil(1.4405 * Math.log2(m.size + 2)));
  });
});
