/**
 * The driver's doorbell gate: writes go straight through until it holds; while it
 * holds, each doorbell keeps its latest value; release writes them, CQ heads first,
 * to the device now in use, and later writes go there too.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DoorbellGate } from "../../../src/drivers/nvme/doorbell-gate.js";

function recorder() {
  const writes: [number, number][] = [];
  return { writes, write: async (off: number, v: number) => void writes.push([off, v]) };
}

describe("DoorbellGate", () => {
  it("writes through while not holding", async () => {
    const a = recorder();
    const gate = new DoorbellGate(a.write);
    const q = gate.queue(0x1008, 0x100c);
    await q.sqTail(3);
    await q.cqHead(1);
    assert.deepEqual(a.writes, [
      [0x1008, 3],
      [0x100c, 1],
    ]);
    assert.equal(gate.holding, false);
  });

  it("holds the latest value per doorbell and releases CQ heads before SQ tails", async () => {
    const a = recorder();
    const gate = new DoorbellGate(a.write);
    const q1 = gate.queue(0x1008, 0x100c);
    const q0 = gate.queue(0x1000, 0x1004);
    gate.hold();
    gate.hold(); // idempotent
    await q1.sqTail(4);
    await q1.sqTail(5);
    await q0.cqHead(2);
    await q1.cqHead(7);
    await q0.cqHead(3);
    assert.deepEqual(a.writes, []);
    assert.equal(gate.heldCount, 3);
    await gate.release();
    assert.deepEqual(a.writes, [
      [0x1004, 3],
      [0x100c, 7],
      [0x1008, 5],
    ]);
    assert.equal(gate.holding, false);
    await gate.release(); // nothing held: nothing written
    assert.equal(a.writes.length, 3);
  });

  it("releases to a new target and keeps using it", async () => {
    const a = recorder();
    const b = recorder();
    const gate = new DoorbellGate(a.write);
    const q = gate.queue(0x1010, 0x1014);
    gate.hold();
    await q.sqTail(9);
    await gate.release(b.write);
    await q.cqHead(8);
    assert.deepEqual(a.writes, []);
    assert.deepEqual(b.writes, [
      [0x1010, 9],
      [0x1014, 8],
    ]);
  });

  it("passes a failed write to the caller", async () => {
    const gate = new DoorbellGate(async () => {
      throw new Error("EBUSY");
    });
    await assert.rejects(gate.queue(0x1000, 0x1004).sqTail(1), /EBUSY/);
    gate.hold();
    await gate.queue(0x1000, 0x1004).sqTail(2);
    await assert.rejects(gate.release(), /EBUSY/);
  });
});
