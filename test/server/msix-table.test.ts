import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MsixTable, pbaSize } from "../../src/server/msix-table.js";

describe("MsixTable", () => {
  it("starts with every vector masked and nothing pending", () => {
    const t = new MsixTable(5);
    for (let v = 0; v < 5; v++) assert.equal(t.isMasked(v), true);
    assert.deepEqual(t.pendingVectors(), []);
    assert.equal(t.tableSize, 80);
    assert.equal(t.pbaSize, 8);
    assert.deepEqual([...t.readTable(12, 4)], [1, 0, 0, 0]);
  });

  it("stores address and data and keeps only the mask bit of vector control", () => {
    const t = new MsixTable(2);
    const entry = new Uint8Array(16);
    const dv = new DataView(entry.buffer);
    dv.setUint32(0, 0xfee00000, true);
    dv.setUint32(4, 0x1, true);
    dv.setUint32(8, 0x4041, true);
    dv.setUint32(12, 0xfffffffe, true); // reserved bits set, mask bit clear
    const r = t.writeTable(16, entry);
    assert.deepEqual(r.unmasked, [1]);
    assert.deepEqual(r.masked, []);
    const e = t.entry(1);
    assert.equal(e.address, 0x1_fee00000n);
    assert.equal(e.data, 0x4041);
    assert.equal(e.masked, false);
    assert.deepEqual([...t.readTable(28, 4)], [0, 0, 0, 0]);
    assert.equal(t.isMasked(0), true);
  });

  it("reports mask transitions of a qword write to vector control", () => {
    const t = new MsixTable(4);
    t.writeTable(2 * 16 + 12, new Uint8Array([0, 0, 0, 0]));
    const r = t.writeTable(2 * 16 + 8, new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]));
    assert.deepEqual(r.masked, [2]);
    assert.deepEqual(r.unmasked, []);
  });

  it("sets and clears PBA bits, visible through PBA reads", () => {
    const t = new MsixTable(70);
    assert.equal(t.pbaSize, 16);
    t.setPending(0, true);
    t.setPending(9, true);
    t.setPending(69, true);
    assert.deepEqual(t.pendingVectors(), [0, 9, 69]);
    assert.deepEqual([...t.readPba(0, 2)], [1, 2]);
    assert.equal(t.readPba(8, 1)[0], 1 << 5);
    t.setPending(9, false);
    assert.equal(t.isPending(9), false);
    t.reset();
    assert.deepEqual(t.pendingVectors(), []);
  });

  it("rejects accesses outside the table or PBA with EINVAL", () => {
    const t = new MsixTable(1);
    assert.throws(() => t.readTable(12, 8), { code: "EINVAL" });
    assert.throws(() => t.readPba(8, 1), { code: "EINVAL" });
    assert.throws(() => t.writeTable(-1, new Uint8Array(1)), { code: "EINVAL" });
    assert.throws(() => t.isMasked(1), { code: "EINVAL" });
    assert.throws(() => new MsixTable(0), { code: "EINVAL" });
    assert.throws(() => new MsixTable(2049), { code: "EINVAL" });
  });

  it("pbaSize rounds to qwords", () => {
    assert.equal(pbaSize(1), 8);
    assert.equal(pbaSize(64), 8);
    assert.equal(pbaSize(65), 16);
    assert.equal(pbaSize(2048), 256);
  });

  it("behaves like memory with a write mask (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })), {
          maxLength: 20,
        }),
        (vectors, writes) => {
          const t = new MsixTable(vectors);
          const model = t.readTable(0, t.tableSize);
          for (const [at, bytes] of writes) {
            const off = at % t.tableSize;
            const data = bytes.subarray(0, Math.min(bytes.length, t.tableSize - off));
            const before = Array.from({ length: vectors }, (_, v) => t.isMasked(v));
            const r = t.writeTable(off, data);
            for (let i = 0; i < data.length; i++) {
              const k = (off + i) % 16;
              model[off + i] = k < 12 ? data[i]! : k === 12 ? data[i]! & 1 : 0;
            }
            for (let v = 0; v < vectors; v++) {
              const now = t.isMasked(v);
              assert.equal(r.unmasked.includes(v), before[v] && !now);
              assert.equal(r.masked.includes(v), !before[v] && now);
            }
          }
          assert.deepEqual(t.readTable(0, t.tableSize), model);
        },
      ),
    );
  });
});
