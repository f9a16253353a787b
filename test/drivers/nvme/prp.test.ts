import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { buildPrps, dataPages, listPagesNeeded, walkPrps } from "../../../src/drivers/nvme/prp.js";

const PAGE = 4096;

describe("NVMe PRP entries and lists", () => {
  it("one page: PRP1 only; two pages: PRP2 is the second page", () => {
    const one = buildPrps(dataPages(0x10000n, 4096, PAGE), [], PAGE);
    assert.deepEqual(one, { prp1: 0x10000n, prp2: 0n, lists: [] });
    const two = buildPrps(dataPages(0x10000n, 8192, PAGE), [], PAGE);
    assert.deepEqual(two, { prp1: 0x10000n, prp2: 0x11000n, lists: [] });
    // An offset into the first page pushes 4 KiB into a second page.
    const offset = buildPrps(dataPages(0x10200n, 4096, PAGE), [], PAGE);
    assert.deepEqual(offset, { prp1: 0x10200n, prp2: 0x11000n, lists: [] });
  });

  it("three pages: PRP2 points to a list holding pages two and three", () => {
    const set = buildPrps(dataPages(0x20000n, 3 * 4096, PAGE), [0x90000n], PAGE);
    assert.equal(set.prp1, 0x20000n);
    assert.equal(set.prp2, 0x90000n);
    assert.equal(set.lists.length, 1);
    assert.deepEqual([...set.lists[0]!.entries.subarray(0, 3)], [0x21000n, 0x22000n, 0n]);
  });

  it("chains list pages: the last slot of a full page points to the next", () => {
    // 1 + 511 + 2 pages: the first list is full of data but for its chain slot.
    const pages = 1 + 511 + 2;
    assert.equal(listPagesNeeded(pages, PAGE), 2);
    const set = buildPrps(dataPages(0n, pages * PAGE, PAGE), [0xa000000n, 0xb000000n], PAGE);
    assert.equal(set.lists[0]!.entries[511], 0xb000000n);
    assert.equal(set.lists[0]!.entries[510], 511n * 4096n);
    assert.equal(set.lists[1]!.entries[0], 512n * 4096n);
    // Exactly one page of list entries needs no chain.
    assert.equal(listPagesNeeded(1 + 512, PAGE), 1);
  });

  it("a controller walking the PRPs touches exactly the transfer, in order (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 40n }).map((a) => a * 4n), // dword aligned
        fc.integer({ min: 1, max: 3 * 1024 * 1024 }),
        fc.constantFrom(512, 4096),
        (iova, length, pageSize) => {
          const pages = dataPages(iova, length, pageSize);
          const n = listPagesNeeded(pages.length, pageSize);
          const listIovas = Array.from({ length: n }, (_, i) => (1n << 50n) + BigInt(i * pageSize));
          const set = buildPrps(pages, listIovas, pageSize);
          const lists = new Map(set.lists.map((l) => [l.iova, l.entries]));
          const segments = walkPrps(set.prp1, set.prp2, length, pageSize, (at) => {
            const l = lists.get(at);
            assert.ok(
              l !== undefined,
              `the walk reads only list pages we wrote (0x${at.toString(16)})`,
            );
            return l;
          });
          // Contiguous coverage of [iova, iova + length), no segment crossing a page.
          let at = iova;
          let total = 0;
          for (const [addr, len] of segments) {
            assert.equal(addr, at);
            assert.ok(len > 0);
            assert.ok(Number(addr % BigInt(pageSize)) + len <= pageSize);
            at += BigInt(len);
            total += len;
          }
          assert.equal(total, length);
          assert.equal(set.lists.length, n, "no list page more than needed");
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses what PRPs cannot express", () => {
    assert.throws(() => dataPages(0x1001n, 16, PAGE), /dword aligned/);
    assert.throws(() => dataPages(0n, 0, PAGE), /positive/);
    assert.throws(() => buildPrps(dataPages(0n, 3 * PAGE, PAGE), [], PAGE), /list pages/);
  });
});
