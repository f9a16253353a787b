import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CidAllocator } from "../../../src/drivers/nvme/cid-allocator.js";
import { SlotPool } from "../../../src/drivers/nvme/slot-pool.js";
import { SubmissionRing } from "../../../src/drivers/nvme/sq-ring.js";
import { decodeSqe } from "../../../src/drivers/nvme/sqe.js";

describe("NVMe command identifiers", () => {
  it("hand out the lowest free CID, never one outstanding (fast-check model)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 45 })), { maxLength: 200 }),
        (capacity, ops) => {
          const a = new CidAllocator(capacity);
          const model = new Set<number>();
          for (const op of ops) {
            if (op === -1) {
              const got = a.allocate();
              let lowest: number | undefined;
              for (let i = 0; i < capacity; i++) {
                if (!model.has(i)) {
                  lowest = i;
                  break;
                }
              }
              assert.equal(got, lowest);
              if (got !== undefined) model.add(got);
            } else {
              assert.equal(a.free(op), model.delete(op), `free(${op})`);
            }
            assert.equal(a.inUse, model.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuse capacities the 16-bit CID cannot carry", () => {
    assert.throws(() => new CidAllocator(0), RangeError);
    assert.throws(() => new CidAllocator(0x10000), RangeError);
  });
});

describe("NVMe submission ring", () => {
  it("keeps one slot free, wraps, and trusts only SQ heads inside what it submitted (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: -2, max: 14 })), { maxLength: 100 }),
        (entries, ops) => {
          const mem = new Uint8Array(entries * 64);
          const ring = new SubmissionRing(mem, entries);
          let submitted = 0;
          let head = 0;
          for (const op of ops) {
            if (op === -1) {
              if (ring.used === entries - 1) {
                assert.ok(ring.full);
                assert.throws(() => ring.push({ opcode: 1 }, 0), /full/);
                continue;
              }
              const slot = ring.tail;
              const tail = ring.push({ opcode: 2, nsid: submitted }, submitted & 0xffff);
              assert.equal(tail, (slot + 1) % entries);
              assert.equal(decodeSqe(mem, slot * 64).nsid, submitted);
              submitted++;
            } else {
              // A head the controller may report: between ours and the tail, inclusive.
              const used = (ring.tail - head + entries) % entries;
              const advance = (op - head + entries) % entries;
              const valid = Number.isInteger(op) && op >= 0 && op < entries && advance <= used;
              ring.consumedTo(op);
              if (valid) head = op;
              assert.equal(ring.head, head);
            }
            assert.ok(ring.used <= entries - 1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("slot pool", () => {
  it("serves waiters in arrival order as slots come back", async () => {
    const pool = new SlotPool(2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    assert.notEqual(a, b);
    const order: number[] = [];
    const w1 = pool.acquire().then((s) => order.push(1) && s);
    const w2 = pool.acquire().then((s) => order.push(2) && s);
    assert.equal(pool.waiting, 2);
    pool.release(b);
    pool.release(a);
    assert.deepEqual([await w1, await w2], [b, a]);
    assert.deepEqual(order, [1, 2]);
    assert.throws(() => pool.release(7), /not taken/);
  });
});
