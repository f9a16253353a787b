import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VfioError } from "../../src/errors.js";
import { DEFAULT_PASID_QUOTA, EDQUOT, PasidAllocator } from "../../src/iommu/index.js";

function fails(fn: () => unknown, errno: number, msg?: RegExp): VfioError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VfioError, `expected VfioError, got ${e}`);
    assert.equal(e.errno, errno, e.message);
    if (msg) assert.match(e.message, msg);
    return e;
  }
  assert.fail(`expected errno ${errno}`);
}

const EINVAL = 22;
const ENOSPC = 28;

describe("PasidAllocator allocation", () => {
  it("returns the lowest free id in [min, max] and reuses freed ids", () => {
    const a = new PasidAllocator();
    const p = {};
    assert.equal(a.alloc(p, 0, 100), 0);
    assert.equal(a.alloc(p, 0, 100), 1);
    assert.equal(a.alloc(p, 0, 100), 2);
    assert.equal(a.alloc(p, 10, 100), 10);
    assert.equal(a.alloc(p, 5, 100), 5);
    assert.deepEqual(a.free(p, 1, 1), [1]);
    assert.equal(a.alloc(p, 0, 100), 1);
    assert.equal(a.alloc(p, 0, 100), 3);
    assert.deepEqual([...a.pasids(p)], [0, 1, 2, 3, 5, 10]);
    assert.equal(a.allocated, 6);
  });

  it("ENOSPC when the range is exhausted or outside the PASID space", () => {
    const a = new PasidAllocator({ maxPasid: 0xfffff });
    const p = "proc";
    assert.equal(a.alloc(p, 7, 8), 7);
    assert.equal(a.alloc(p, 7, 8), 8);
    fails(() => a.alloc(p, 7, 8), ENOSPC, /no free PASID in \[0x7, 0x8\]/);
    fails(() => a.alloc(p, 0x100000, 0x200000), ENOSPC, /PASID space ends at 0xfffff/);
    // A range reaching past the space is clamped to it.
    assert.equal(a.alloc(p, 0xfffff, 0xffffffff), 0xfffff);
    fails(() => a.alloc(p, 0xffff0 + 0xf, 0xffffffff), ENOSPC);
  });

  it("EINVAL for malformed ranges", () => {
    const a = new PasidAllocator();
    fails(() => a.alloc(1, 5, 4), EINVAL, /min 0x5 > max 0x4/);
    fails(() => a.alloc(1, -1, 4), EINVAL);
    fails(() => a.alloc(1, 0, 2 ** 32), EINVAL);
    fails(() => a.alloc(1, 0.5, 4), EINVAL);
    fails(() => a.free(1, 5, 4), EINVAL);
  });

  it("different owners draw from one global space", () => {
    const a = new PasidAllocator();
    assert.equal(a.alloc("a", 1, 10), 1);
    assert.equal(a.alloc("b", 1, 10), 2);
    assert.equal(a.alloc("a", 1, 10), 3);
    assert.equal(a.ownerOf(2), "b");
    assert.ok(a.owns("a", 3));
    assert.ok(!a.owns("a", 2));
  });
});

describe("PasidAllocator quota", () => {
  it("EDQUOT (122) at the default quota of 1000", () => {
    const a = new PasidAllocator();
    const owner = {};
    assert.equal(DEFAULT_PASID_QUOTA, 1000);
    for (let i = 0; i < 1000; i++) assert.equal(a.alloc(owner, 1, 0xfffff), i + 1);
    const e = fails(
      () => a.alloc(owner, 1, 0xfffff),
      EDQUOT,
      /holds 1000 PASIDs, its quota is 1000/,
    );
    assert.equal(e.code, "EDQUOT");
    // The quota is per owner: another one is unaffected.
    assert.equal(a.alloc({}, 1, 0xfffff), 1001);
    // Freeing one makes room again.
    a.free(owner, 500, 500);
    assert.equal(a.alloc(owner, 1, 0xfffff), 500);
  });

  it("is shared by all containers of one owner", () => {
    const a = new PasidAllocator({ quota: 3 });
    const process = { pid: 42 };
    const containerA = { owner: process };
    const containerB = { owner: process };
    a.alloc(containerA.owner, 0, 100);
    a.alloc(containerB.owner, 0, 100);
    a.alloc(containerA.owner, 0, 100);
    fails(() => a.alloc(containerB.owner, 0, 100), EDQUOT);
    assert.equal(a.countOf(process), 3);
  });

  it("quota is checked before the range (an over-quota owner gets EDQUOT)", () => {
    const a = new PasidAllocator({ quota: 1 });
    a.alloc("x", 0, 0);
    fails(() => a.alloc("x", 0, 0), EDQUOT);
    fails(() => a.alloc("y", 0, 0), ENOSPC);
  });

  it("per-owner quota can be set", () => {
    const a = new PasidAllocator();
    a.setQuota("small", 2);
    assert.equal(a.quotaOf("small"), 2);
    assert.equal(a.quotaOf("other"), 1000);
    a.alloc("small", 0, 10);
    a.alloc("small", 0, 10);
    fails(() => a.alloc("small", 0, 10), EDQUOT, /quota is 2/);
  });
});

describe("PasidAllocator free", () => {
  it("frees only the caller's ids in the range", () => {
    const a = new PasidAllocator();
    for (let i = 0; i < 10; i++) a.alloc(i % 2 === 0 ? "even" : "odd", 0, 100);
    assert.deepEqual(a.free("even", 0, 100), [0, 2, 4, 6, 8]);
    assert.deepEqual([...a.pasids("odd")], [1, 3, 5, 7, 9]);
    assert.ok(a.owns("odd", 3));
    // Freeing another owner's id is a no-op for it.
    assert.deepEqual(a.free("even", 3, 3), []);
    assert.ok(a.owns("odd", 3));
    assert.deepEqual(a.free("stranger", 0, 0xffffffff), []);
    assert.equal(a.countOf("odd"), 5);
  });

  it("uses N+1 ordered lookups for N ids freed, however wide the range", () => {
    let hook = 0;
    const a = new PasidAllocator({ onLookup: () => hook++ });
    const ids = [1, 999, 5000, 70000];
    for (const id of ids) a.alloc("me", id, id);
    for (let i = 0; i < 50; i++) a.alloc("other", 100, 0xfffff);
    const before = a.lookups;
    assert.deepEqual(a.free("me", 0, 0xffffffff), ids);
    assert.equal(a.lookups - before, ids.length + 1);
    assert.equal(hook, ids.length + 1);
    assert.equal(a.countOf("me"), 0);

    // A sub-range: lookups are bounded by what the owner holds in it, not its width.
    for (const id of ids) a.alloc("me", id, id);
    const b2 = a.lookups;
    assert.deepEqual(a.free("me", 2, 6000), [999, 5000]);
    assert.equal(a.lookups - b2, 3);
    const b3 = a.lookups;
    assert.deepEqual(a.free("me", 2, 6000), []);
    assert.equal(a.lookups - b3, 1);
  });

  it("[0, 0xFFFFFFFF] frees everything the owner holds", () => {
    const a = new PasidAllocator();
    for (let i = 0; i < 1000; i++) a.alloc("me", 0, 0xfffff);
    a.alloc("other", 0, 0xfffff);
    const before = a.lookups;
    assert.equal(a.free("me", 0, 0xffffffff).length, 1000);
    assert.equal(a.lookups - before, 1001);
    assert.equal(a.countOf("me"), 0);
    assert.equal(a.allocated, 1);
    // Freed ids are free again, and coalesced: lowest-free is 0.
    assert.equal(a.alloc("me", 0, 0xfffff), 0);
  });

  it("releaseOwner frees everything and forgets the owner", () => {
    const a = new PasidAllocator();
    a.setQuota("me", 5);
    a.alloc("me", 10, 20);
    a.alloc("me", 10, 20);
    a.alloc("you", 10, 20);
    assert.deepEqual(a.releaseOwner("me"), [10, 11]);
    assert.equal(a.countOf("me"), 0);
    assert.equal(a.quotaOf("me"), 1000);
    assert.equal(a.ownerOf(10), undefined);
    assert.equal(a.ownerOf(12), "you");
    assert.equal(a.alloc("you", 10, 20), 10);
  });
});

describe("PasidAllocator model test", () => {
  it("matches a naive allocator on random alloc/free sequences", () => {
    const owner = fc.constantFrom("a", "b", "c");
    const bound = fc.integer({ min: 0, max: 40 });
    const op = fc.oneof(
      fc.record({ k: fc.constant("alloc" as const), o: owner, x: bound, y: bound }),
      fc.record({ k: fc.constant("free" as const), o: owner, x: bound, y: bound }),
      fc.record({ k: fc.constant("release" as const), o: owner }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80, size: "medium" }), (ops) => {
        const maxPasid = 31;
        const quota = 6;
        const a = new PasidAllocator({ maxPasid, quota });
        const held = new Map<number, string>();
        for (const o of ops) {
          if (o.k === "release") {
            const mine = [...held]
              .filter(([, w]) => w === o.o)
              .map(([id]) => id)
              .sort((p, q) => p - q);
            assert.deepEqual(a.releaseOwner(o.o), mine);
            for (const id of mine) held.delete(id);
            continue;
          }
          const [min, max] = [o.x, o.y];
          if (min > max) {
            fails(() => (o.k === "alloc" ? a.alloc(o.o, min, max) : a.free(o.o, min, max)), EINVAL);
            continue;
          }
          if (o.k === "alloc") {
            const count = [...held.values()].filter((w) => w === o.o).length;
            let expect: number | undefined;
            for (let id = min; id <= Math.min(max, maxPasid); id++) {
              if (!held.has(id)) {
                expect = id;
                break;
              }
            }
            if (count >= quota) fails(() => a.alloc(o.o, min, max), EDQUOT);
            else if (expect === undefined) fails(() => a.alloc(o.o, min, max), ENOSPC);
            else {
              assert.equal(a.alloc(o.o, min, max), expect);
              held.set(expect, o.o);
            }
          } else {
            const mine = [...held]
              .filter(([id, w]) => w === o.o && id >= min && id <= max)
              .map(([id]) => id)
              .sort((p, q) => p - q);
            const before = a.lookups;
            assert.deepEqual(a.free(o.o, min, max), mine);
            assert.ok(a.lookups - before <= mine.length + 1);
            for (const id of mine) held.delete(id);
          }
          assert.equal(a.allocated, held.size);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
