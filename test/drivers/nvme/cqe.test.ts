import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CompletionRing, decodeCqe } from "../../../src/drivers/nvme/cqe.js";

interface Entry {
  result: number;
  sqHead: number;
  sqid: number;
  cid: number;
  status: number;
}

/** Writes a completion as a controller does, with phase tag `phase`. */
function post(ring: Uint8Array, slot: number, e: Entry, phase: number): void {
  const v = new DataView(ring.buffer, slot * 16, 16);
  v.setUint32(0, e.result, true);
  v.setUint32(4, 0, true);
  v.setUint32(8, ((e.sqid << 16) | e.sqHead) >>> 0, true);
  v.setUint32(12, ((e.status << 17) | (phase << 16) | e.cid) >>> 0, true);
}

const entry = fc.record({
  result: fc.integer({ min: 0, max: 0xffffffff }),
  sqHead: fc.integer({ min: 0, max: 0xffff }),
  sqid: fc.integer({ min: 0, max: 0xffff }),
  cid: fc.integer({ min: 0, max: 0xffff }),
  status: fc.integer({ min: 0, max: 0x7fff }),
});

describe("NVMe completion queue entries", () => {
  it("decode every field (fast-check)", () => {
    fc.assert(
      fc.property(entry, fc.integer({ min: 0, max: 1 }), (e, phase) => {
        const ring = new Uint8Array(16);
        post(ring, 0, e, phase);
        const c = decodeCqe(ring, 0);
        assert.deepEqual(
          {
            result: c.result,
            sqHead: c.sqHead,
            sqid: c.sqid,
            cid: c.cid,
            status: c.statusField,
            phase: c.phase,
          },
          { ...e, phase },
        );
      }),
    );
  });

  it("the ring takes exactly the entries a controller posted, in order, across wraps (fast-check)", () => {
    // The controller posts batches; the host reaps after each batch. The ring never
    // holds more than `size` unreaped entries, as a real queue never does.
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 16 }),
        fc.array(fc.array(entry, { maxLength: 16 }), { maxLength: 20 }),
        (size, batches) => {
          const mem = new Uint8Array(size * 16);
          const ring = new CompletionRing(mem, size);
          let tail = 0;
          let phase = 1;
          for (const batch of batches) {
            const posted = batch.slice(0, size);
            for (const e of posted) {
              post(mem, tail, e, phase);
              tail++;
              if (tail === size) {
                tail = 0;
                phase ^= 1;
              }
            }
            const got: Entry[] = [];
            for (let c = ring.pop(); c !== null; c = ring.pop()) {
              got.push({
                result: c.result,
                sqHead: c.sqHead,
                sqid: c.sqid,
                cid: c.cid,
                status: c.statusField,
              });
            }
            assert.deepEqual(
              got,
              posted.map((e) => ({ ...e })),
            );
            assert.equal(ring.head, tail);
            assert.equal(ring.phase, phase);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("sees nothing in a zeroed ring: new entries carry phase 1 on the first pass", () => {
    const ring = new CompletionRing(new Uint8Array(4 * 16), 4);
    assert.equal(ring.ready(), false);
    assert.equal(ring.pop(), null);
    assert.equal(ring.head, 0);
  });
});
