import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VfioError } from "../../src/errors.js";
import { type DmaPerms, IommuDomain, MemlockAccount, U64_MAX } from "../../src/iommu/index.js";

const RW: DmaPerms = { read: true, write: true };
const RO: DmaPerms = { read: true, write: false };
const K4 = 0x1000n;

function dom(opts: Partial<ConstructorParameters<typeof IommuDomain>[0]> = {}) {
  return new IommuDomain<string>({ memlockLimit: "infinity", ...opts } as never);
}

function fails(fn: () => unknown, code: string, msg?: RegExp): VfioError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VfioError, `expected VfioError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("IommuDomain map rules", () => {
  it("maps a window and accounts its pages", () => {
    const d = dom();
    const w = d.map(0x10000n, 0x3000n, RW, "a");
    assert.equal(w.iova, 0x10000n);
    assert.equal(w.end, 0x13000n);
    assert.equal(w.value, "a");
    assert.equal(w.mapped, true);
    assert.equal(d.count, 1);
    assert.equal(d.pinnedPages, 3n);
    assert.equal(d.pinnedBytes, 0x3000n);
    assert.equal(d.dmaAvail, 65534);
    assert.equal(d.find(0x12fffn), w);
    assert.equal(d.find(0x13000n), undefined);
  });

  const einval: [string, bigint, bigint, DmaPerms, RegExp][] = [
    ["no permission", 0n, K4, { read: false, write: false }, /neither read nor write/],
    ["size 0", 0n, 0n, RW, /size is zero/],
    ["unaligned iova", 0x800n, K4, RW, /multiples of the 0x1000-byte page size/],
    ["unaligned size", 0n, 0x1800n, RW, /multiples/],
    ["negative iova", -K4, K4, RW, /64-bit/],
    ["iova above 2^64", 1n << 64n, K4, RW, /64-bit/],
    ["size above 2^64", 0n, 1n << 64n, RW, /64-bit/],
    ["wraps past 2^64", U64_MAX - 0xfffn, 0x2000n, RW, /wraps/],
  ];
  for (const [name, iova, size, perms, msg] of einval) {
    it(`EINVAL: ${name}`, () => {
      const d = dom();
      fails(() => d.map(iova, size, perms, "x"), "EINVAL", msg);
      assert.equal(d.count, 0);
      assert.equal(d.pinnedPages, 0n);
    });
  }

  it("accepts a mapping ending exactly at 2^64 (only iova+size-1 must not wrap)", () => {
    const d = dom();
    const w = d.map(U64_MAX - 0xfffn, K4, RO, "top");
    assert.equal(w.end, 1n << 64n);
    assert.equal(d.find(U64_MAX), w);
  });

  it("uses the smallest page size of the pgsizes bitmap for alignment", () => {
    const d = dom({ pgsizes: 0x10000n | 0x200000n });
    assert.equal(d.pageSize, 0x10000n);
    fails(() => d.map(0x1000n, 0x10000n, RW, "x"), "EINVAL", /0x10000-byte/);
    fails(() => d.map(0x10000n, 0x1000n, RW, "x"), "EINVAL");
    d.map(0x10000n, 0x10000n, RW, "ok");
    assert.throws(() => dom({ pgsizes: 0n }), /pgsizes/);
  });

  it("EEXIST for any overlap with an existing mapping", () => {
    const d = dom();
    d.map(0x10000n, 0x4000n, RW, "a");
    for (const [iova, size] of [
      [0x10000n, 0x4000n],
      [0xf000n, 0x2000n],
      [0x13000n, 0x2000n],
      [0x11000n, K4],
      [0x0n, 0x100000n],
    ] as const) {
      fails(
        () => d.map(iova, size, RW, "b"),
        "EEXIST",
        /overlaps the mapping \[0x10000, 0x14000\)/,
      );
    }
    d.map(0xf000n, K4, RW, "below");
    d.map(0x14000n, K4, RW, "above");
    assert.equal(d.count, 3);
  });

  it("ENOSPC with a message when the mapping limit is reached", () => {
    const d = dom({ maxMappings: 2 });
    d.map(0n, K4, RW, "a");
    d.map(K4, K4, RW, "b");
    assert.equal(d.dmaAvail, 0);
    fails(() => d.map(0x2000n, K4, RW, "c"), "ENOSPC", /limit of 2 DMA mappings/);
    d.unmap(0n, K4);
    d.map(0x2000n, K4, RW, "c");
  });

  it("defaults to 65535 mappings", () => {
    const d = dom();
    for (let i = 0n; i < 65535n; i++) d.map(i * K4, K4, RO, "p");
    fails(() => d.map(65535n * K4, K4, RO, "p"), "ENOSPC", /65535/);
  });

  it("EINVAL outside the usable IOVA ranges", () => {
    const d = dom({
      iovaRanges: [
        { start: 0x100000n, end: 0x1fffffn },
        { start: 0x0n, end: 0xeffffn },
        { start: 0x400000n, end: 0x4fffffn },
      ],
    });
    // [0, 0xeffff] and [0x100000, 0x1fffff] are disjoint (hole at 0xf0000..0xfffff).
    assert.equal(d.iovaRanges.length, 3);
    d.map(0xe0000n, 0x10000n, RW, "ok-end-of-range");
    fails(() => d.map(0xf0000n, K4, RW, "x"), "EINVAL", /outside the usable IOVA ranges/);
    fails(() => d.map(0x1ff000n, 0x2000n, RW, "x"), "EINVAL", /outside/);
    fails(() => d.map(0x500000n, K4, RW, "x"), "EINVAL", /outside/);
    d.map(0x400000n, 0x100000n, RW, "whole-range");
  });

  it("merges adjacent IOVA ranges and rejects overlapping ones", () => {
    const d = dom({
      iovaRanges: [
        { start: 0n, end: 0xfffn },
        { start: 0x1000n, end: 0x1fffn },
      ],
    });
    assert.deepEqual(d.iovaRanges, [{ start: 0n, end: 0x1fffn }]);
    d.map(0n, 0x2000n, RW, "spans");
    assert.throws(
      () =>
        dom({
          iovaRanges: [
            { start: 0n, end: 0x1fffn },
            { start: 0x1000n, end: 0x2fffn },
          ],
        }),
      /overlap/,
    );
    assert.throws(() => dom({ iovaRanges: [] }), /empty/);
  });

  it("checks rules in the kernel's order", () => {
    // overlap beats full table; full table beats IOVA range; IOVA range beats memlock.
    const d = dom({
      maxMappings: 1,
      iovaRanges: [{ start: 0n, end: 0xffffn }],
      memlockLimit: 0x1000n,
    });
    d.map(0n, K4, RW, "a");
    fails(() => d.map(0n, 0x2000n, RW, "x"), "EEXIST");
    fails(() => d.map(0x100000n, 0x2000n, RW, "x"), "ENOSPC");
    d.unmap(0n, K4);
    fails(() => d.map(0x100000n, 0x2000n, RW, "x"), "EINVAL");
    fails(() => d.map(0x2000n, 0x2000n, RW, "x"), "ENOMEM");
    // misalignment beats overlap
    d.map(0n, K4, RW, "a");
    fails(() => d.map(0x800n, K4, RW, "x"), "EINVAL");
  });
});

describe("IommuDomain pinned-page accounting", () => {
  it("ENOMEM names the limit and the request; unmap gives pages back", () => {
    const d = dom({ memlockLimit: 0x2800n }); // 2.5 pages: rounds down to 2
    d.map(0n, K4, RW, "a");
    const e = fails(() => d.map(0x10000n, 0x2000n, RW, "b"), "ENOMEM");
    assert.match(e.message, /memlock limit \(RLIMIT_MEMLOCK\) of 10240 bytes \(2 pages\)/);
    assert.match(e.message, /pinning 2 pages \(0x2000 bytes\) on top of 1 already pinned/);
    assert.match(e.message, /at iova 0x10000/);
    assert.equal(d.pinnedPages, 1n);
    assert.equal(d.count, 1);
    d.map(0x10000n, K4, RW, "b");
    assert.equal(d.pinnedPages, 2n);
    d.unmap(0n, K4);
    assert.equal(d.pinnedPages, 1n);
    assert.equal(d.account.pinnedPages, 1n);
    d.map(0x20000n, K4, RW, "c");
  });

  it("'infinity' never fails, and the limit can be changed later", () => {
    const d = dom({ memlockLimit: "infinity" });
    d.map(0n, 1n << 40n, RW, "huge");
    assert.equal(d.pinnedPages, 1n << 28n);
    d.account.limit = 0n;
    fails(() => d.map(1n << 40n, K4, RW, "x"), "ENOMEM");
    assert.throws(() => {
      d.account.limit = -1n;
    }, /non-negative/);
  });

  it("a shared account limits the sum over domains (one owner, several containers)", () => {
    const account = new MemlockAccount({ limit: 0x3000n });
    const a = new IommuDomain<string>({ account });
    const b = new IommuDomain<string>({ account });
    a.map(0n, 0x2000n, RW, "a");
    fails(() => b.map(0n, 0x2000n, RW, "b"), "ENOMEM");
    b.map(0n, K4, RW, "b");
    assert.equal(account.pinnedPages, 3n);
    assert.equal(a.pinnedPages, 2n);
    assert.equal(b.pinnedPages, 1n);
    a.unmapAll();
    assert.equal(account.pinnedPages, 1n);
  });

  it("requires a memlock limit or an account", () => {
    assert.throws(() => new IommuDomain({} as never), /memlockLimit/);
  });
});

describe("IommuDomain unmap rules (type1v2)", () => {
  function three() {
    const d = dom({ memlockLimit: 0x100000n });
    d.map(0x10000n, 0x2000n, RW, "a");
    d.map(0x12000n, 0x1000n, RW, "b");
    d.map(0x20000n, 0x4000n, RO, "c");
    return d;
  }

  it("unmaps an exact mapping and reports the size", () => {
    const d = three();
    const r = d.unmap(0x12000n, K4);
    assert.equal(r.size, K4);
    assert.deepEqual(
      r.windows.map((w) => w.value),
      ["b"],
    );
    assert.equal(r.windows[0]!.mapped, false);
    assert.equal(d.count, 2);
    assert.equal(d.pinnedPages, 6n);
  });

  it("a range may cover several whole mappings", () => {
    const d = three();
    const r = d.unmap(0x0n, 0x100000n);
    assert.equal(r.size, 0x7000n);
    assert.deepEqual(
      r.windows.map((w) => w.value),
      ["a", "b", "c"],
    );
    assert.equal(d.count, 0);
    assert.equal(d.pinnedPages, 0n);
    assert.equal(d.account.pinnedPages, 0n);
  });

  it("EINVAL when the range would split a mapping at either end, nothing removed", () => {
    const d = three();
    fails(() => d.unmap(0x11000n, 0x2000n), "EINVAL", /split the mapping \[0x10000, 0x12000\)/);
    fails(() => d.unmap(0x10000n, 0x1000n), "EINVAL", /split the mapping \[0x10000, 0x12000\)/);
    fails(() => d.unmap(0x12000n, 0xf000n), "EINVAL", /split the mapping \[0x20000, 0x24000\)/);
    assert.equal(d.count, 3);
    assert.equal(d.pinnedPages, 7n);
  });

  it("a range holding no mapping unmaps nothing and is not an error", () => {
    const d = three();
    const r = d.unmap(0x13000n, 0xd000n);
    assert.equal(r.size, 0n);
    assert.equal(r.windows.length, 0);
    assert.equal(d.count, 3);
  });

  it("EINVAL for size 0, misalignment and wrap", () => {
    const d = three();
    fails(() => d.unmap(0x10000n, 0n), "EINVAL", /size is zero/);
    fails(() => d.unmap(0x10800n, K4), "EINVAL", /multiples/);
    fails(() => d.unmap(0x10000n, 0x800n), "EINVAL", /multiples/);
    fails(() => d.unmap(U64_MAX - 0xfffn, 0x2000n), "EINVAL", /wraps/);
    assert.equal(d.count, 3);
  });

  it("unmapAll removes everything and releases all pages", () => {
    const d = three();
    const r = d.unmapAll();
    assert.equal(r.size, 0x7000n);
    assert.equal(r.windows.length, 3);
    assert.ok(r.windows.every((w) => !w.mapped));
    assert.equal(d.count, 0);
    assert.equal(d.pinnedPages, 0n);
    assert.deepEqual([...d.windows()], []);
  });

  it("unmapExact (vfio-user rule) needs an exact match, else ENOENT", () => {
    const d = three();
    fails(() => d.unmapExact(0x10000n, K4), "ENOENT", /no mapping matches exactly/);
    fails(() => d.unmapExact(0x11000n, K4), "ENOENT");
    assert.equal(d.unmapExact(0x10000n, 0x2000n).value, "a");
    assert.equal(d.count, 2);
    assert.equal(d.pinnedPages, 5n);
  });

  it("windowsIn lists windows intersecting a range", () => {
    const d = three();
    assert.deepEqual(
      Array.from(d.windowsIn(0x11000n, 0x10000n), (w) => w.value),
      ["a", "b", "c"],
    );
    assert.deepEqual(
      Array.from(d.windowsIn(0x13000n, 0xd000n), (w) => w.value),
      [],
    );
  });
});
