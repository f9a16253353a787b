import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { DmaWindowInfo } from "../../src/server/device.js";
import { type HeldDmaEvent, HeldDmaEvents } from "../../src/server/migration/held-dma-events.js";

const PAGE = 4096n;
const win = (slot: number): DmaWindowInfo => ({
  iova: BigInt(slot) * PAGE,
  size: PAGE,
  readable: true,
  writable: true,
  mapped: false,
});

describe("HeldDmaEvents", () => {
  it("delivers the net of a stopped period, in order, and holds no more than the windows involved", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 300 }),
        (premapped, slots) => {
          const held = new HeldDmaEvents();
          const mapped = new Set(premapped);
          // Every event, with whether its window was mapped while held (its pair cancels).
          const all: { kind: "map" | "unmap"; slot: number; id: number }[] = [];
          const generation = new Map<number, number>(premapped.map((s) => [s, -1 - s]));
          let next = 0;
          for (const slot of slots) {
            // Toggle the slot: a client maps what is free and unmaps what is mapped.
            const kind = mapped.has(slot) ? "unmap" : "map";
            if (kind === "map") {
              mapped.add(slot);
              generation.set(slot, next++);
            } else {
              mapped.delete(slot);
            }
            all.push({ kind, slot, id: generation.get(slot)! });
            held.hold(kind, win(slot));
            const unmappedPremapped = premapped.filter(
              (s) => !mapped.has(s) || generation.get(s)! >= 0,
            ).length;
            assert.ok(held.size <= unmappedPremapped + mapped.size, `${held.size} held`);
          }
          // Reference: drop each map made while held together with its unmap.
          const unmappedIds = new Set(all.filter((e) => e.kind === "unmap").map((e) => e.id));
          const expected = all.filter((e) => !(e.id >= 0 && unmappedIds.has(e.id)));
          const got = held.take();
          assert.deepEqual(
            got.map((e: HeldDmaEvent) => `${e.kind} ${e.window.iova / PAGE}`),
            expected.map((e) => `${e.kind} ${e.slot}`),
          );
          // The device's view, brought up to date by them, is what is mapped now.
          const view = new Set(premapped);
          for (const e of got) {
            const s = Number(e.window.iova / PAGE);
            if (e.kind === "map") {
              assert.ok(!view.has(s), `map of ${s}, already known`);
              view.add(s);
            } else {
              assert.ok(view.delete(s), `unmap of ${s}, never known`);
            }
          }
          assert.deepEqual([...view].sort(), [...mapped].sort());
          assert.equal(held.size, 0);
          assert.deepEqual(held.take(), []);
        },
      ),
    );
  });
});
