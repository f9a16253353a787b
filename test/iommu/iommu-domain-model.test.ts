import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VfioError } from "../../src/errors.js";
import { IommuDomain, IommuFaultError } from "../../src/iommu/index.js";

const K4 = 0x1000n;
const MAX = 5;
const LIMIT_PAGES = 12n;
// Pages 0..15 and 20..31 are usable; 16..19 is a reserved hole.
const RANGES = [
  { start: 0n, end: 0xffffn },
  { start: 0x14000n, end: 0x1ffffn },
];

interface M {
  iova: bigint;
  size: bigint;
  read: boolean;
  write: boolean;
  id: number;
}

function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    assert.ok(e instanceof VfioError, String(e));
    return e.code;
  }
}

const base = fc.record({
  page: fc.integer({ min: 0, max: 34 }),
  // Mostly small windows so the mapping limit is reached often; some odd sizes too.
  pages: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 2 }) },
    { weight: 1, arbitrary: fc.integer({ min: -1, max: 8 }) },
  ),
  skew: fc.constantFrom(0n, 0n, 0n, 0x800n),
});
const op = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ k: fc.constant("map" as const), b: base, perms: fc.nat(3) }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("unmap" as const), b: base }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("unmapAll" as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("unmapExact" as const), b: base }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("translate" as const),
      iova: fc.bigInt({ min: 0n, max: 36n * K4 }),
      length: fc.bigInt({ min: 1n, max: 0x5000n }),
      write: fc.boolean(),
    }),
  },
);

function iovaSize(b: { page: number; pages: number; skew: bigint }): [bigint, bigint] {
  return [BigInt(b.page) * K4 + b.skew, BigInt(b.pages) * K4];
}

describe("IommuDomain model test (fast-check vs naive list)", () => {
  it("matches the model's errno on every op and keeps the invariants", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60, size: "medium" }), (ops) => {
        const d = new IommuDomain<number>({
          memlockLimit: LIMIT_PAGES * K4 + 0x800n,
          maxMappings: MAX,
          iovaRanges: RANGES,
        });
        let model: M[] = [];
        let nextId = 0;
        const containing = (a: bigint) => model.find((m) => m.iova <= a && a < m.iova + m.size);
        const pinned = () => model.reduce((s, m) => s + m.size / K4, 0n);
        const covered = (first: bigint, last: bigint) =>
          RANGES.some((r) => r.start <= first && last <= r.end);

        for (const o of ops) {
          switch (o.k) {
            case "map": {
              const [iova, size] = iovaSize(o.b);
              const read = (o.perms & 1) !== 0;
              const write = (o.perms & 2) !== 0;
              let expect = "ok";
              if (!read && !write) expect = "EINVAL";
              else if (size <= 0n || iova % K4 !== 0n) expect = "EINVAL";
              else if (model.some((m) => m.iova < iova + size && iova < m.iova + m.size))
                expect = "EEXIST";
              else if (model.length >= MAX) expect = "ENOSPC";
              else if (!covered(iova, iova + size - 1n)) expect = "EINVAL";
              else if (pinned() + size / K4 > LIMIT_PAGES) expect = "ENOMEM";
              const id = nextId++;
              assert.equal(
                outcome(() => d.map(iova, size, { read, write }, id)),
                expect,
              );
              if (expect === "ok") model.push({ iova, size, read, write, id });
              break;
            }
            case "unmap": {
              const [iova, size] = iovaSize(o.b);
              let expect = "ok";
              if (size <= 0n || iova % K4 !== 0n) expect = "EINVAL";
              else {
                const head = containing(iova);
                const tail = containing(iova + size - 1n);
                if (
                  (head && head.iova !== iova) ||
                  (tail && tail.iova + tail.size !== iova + size)
                ) {
                  expect = "EINVAL";
                }
              }
              let got: { size: bigint; windows: readonly { value: number }[] } | undefined;
              assert.equal(
                outcome(() => {
                  got = d.unmap(iova, size);
                }),
                expect,
              );
              if (expect === "ok") {
                const gone = model.filter((m) => m.iova >= iova && m.iova + m.size <= iova + size);
                assert.deepEqual(
                  got!.windows.map((w) => w.value),
                  gone.sort((x, y) => (x.iova < y.iova ? -1 : 1)).map((m) => m.id),
                );
                assert.equal(
                  got!.size,
                  gone.reduce((s, m) => s + m.size, 0n),
                );
                model = model.filter((m) => !gone.includes(m));
              }
              break;
            }
            case "unmapAll": {
              const r = d.unmapAll();
              assert.equal(r.windows.length, model.length);
              model = [];
              break;
            }
            case "unmapExact": {
              const [iova, size] = iovaSize(o.b);
              const hit = model.find((m) => m.iova === iova && m.size === size);
              assert.equal(
                outcome(() => d.unmapExact(iova, size)),
                hit ? "ok" : "ENOENT",
              );
              model = model.filter((m) => m !== hit);
              break;
            }
            case "translate": {
              const access = o.write ? "write" : "read";
              const end = o.iova + o.length;
              const expectSegs: [number, bigint, bigint][] = [];
              let fault: [bigint, string] | undefined;
              for (let cur = o.iova; cur < end; ) {
                const m = containing(cur);
                if (!m) {
                  fault = [cur, "unmapped"];
                  break;
                }
                if (!(o.write ? m.write : m.read)) {
                  fault = [cur, "permission"];
                  break;
                }
                let segEnd = m.iova + m.size;
                if (end < segEnd) segEnd = end;
                expectSegs.push([m.id, cur - m.iova, segEnd - cur]);
                cur = segEnd;
              }
              const faultsBefore = d.faults;
              try {
                const segs = d.translate(o.iova, o.length, access);
                assert.equal(fault, undefined);
                assert.deepEqual(
                  segs.map((s) => [s.window.value, s.offset, s.length]),
                  expectSegs,
                );
              } catch (e) {
                assert.ok(e instanceof IommuFaultError, String(e));
                assert.deepEqual([e.faultAddress, e.reason], fault);
                assert.equal(d.faults, faultsBefore + 1);
              }
              break;
            }
          }
          // Invariants.
          const ws = [...d.windows()];
          for (let i = 1; i < ws.length; i++) assert.ok(ws[i - 1]!.end <= ws[i]!.iova, "overlap");
          assert.equal(d.count, model.length);
          assert.ok(d.count <= MAX);
          assert.equal(d.dmaAvail, MAX - model.length);
          const sum = ws.reduce((s, w) => s + w.size / K4, 0n);
          assert.equal(d.pinnedPages, sum);
          assert.equal(d.account.pinnedPages, sum);
          assert.equal(sum, pinned());
          assert.ok(sum <= LIMIT_PAGES);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
