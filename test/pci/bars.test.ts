/** BAR and ROM sizing semantics for every BAR kind. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigSpace, decodeBars, decodeRom } from "../../src/pci/index.js";
import { FULL_SPEC } from "./fixtures.js";

const ONES = 0xffffffff;

function sized(offset: number, cs = ConfigSpace.fromSpec(FULL_SPEC)): number {
  cs.writeU32(offset, ONES);
  return cs.readU32(offset);
}

describe("BAR sizing", () => {
  it("reads back type bits before any write", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    assert.deepEqual(
      [0x10, 0x14, 0x18, 0x1c, 0x20, 0x24].map((o) => cs.readU32(o)),
      [0x0, 0x1, 0xc, 0x0, 0x4, 0x0],
    );
  });

  it("I/O BAR: size mask with the I/O space bit", () => {
    assert.equal(sized(0x14), 0xffffffe1);
  });

  it("mem32 BAR: size mask, type bits 0", () => {
    assert.equal(sized(0x10), 0xffffc000);
  });

  it("mem32 prefetchable BAR keeps the prefetch bit; small (16-byte) BARs size too", () => {
    const cs = ConfigSpace.fromSpec({
      vendorId: 1,
      deviceId: 2,
      classCode: 0,
      bars: [
        { kind: "mem32", size: 1 << 20, prefetchable: true },
        { kind: "mem32", size: 16 },
      ],
    });
    assert.equal(sized(0x10, cs), 0xfff00008);
    assert.equal(sized(0x14, cs), 0xfffffff0);
  });

  it("mem64 BAR below 4 GiB: lower dword size mask with type 64 + prefetch, upper all ones", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    assert.equal(sized(0x18, cs), 0xfff0000c);
    assert.equal(sized(0x1c, cs), ONES);
    assert.equal(cs.bar(2)?.address, 0xfffffffffff00000n);
    assert.equal(cs.bar(2)?.size, 1n << 20n);
  });

  it("mem64 BAR above 4 GiB: lower dword only type bits, upper holds the size mask", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    assert.equal(sized(0x20, cs), 0x00000004);
    assert.equal(sized(0x24, cs), 0xfffffffe);
  });

  it("stored addresses are size-aligned and keep the type bits", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    const events = cs.writeU32(0x10, 0xfebd1234);
    assert.equal(cs.readU32(0x10), 0xfebd0000);
    assert.deepEqual(events, [{ kind: "bar", index: 0, previous: 0n, address: 0xfebd0000n }]);
    cs.writeU32(0x14, 0xc0ff);
    assert.equal(cs.readU32(0x14), 0xc0e1);
    assert.equal(cs.bar(1)?.address, 0xc0e0n);
    cs.writeU32(0x20, 0xffffffff);
    cs.writeU32(0x24, 0x00000003);
    assert.equal(cs.bar(4)?.address, 0x2_0000_0000n);
  });

  it("a 64-bit write over both halves gives one event with the full address", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigUint64(0, 0x0000_0004_8010_0000n, true);
    const events = cs.write(0x18, data);
    assert.deepEqual(events, [{ kind: "bar", index: 2, previous: 0n, address: 0x4_8010_0000n }]);
    assert.deepEqual(
      cs.bars().map((b) => [b.index, b.kind]),
      [
        [0, "mem32"],
        [1, "io"],
        [2, "mem64"],
        [4, "mem64"],
      ],
    );
  });

  it("an unaligned write straddling two BARs changes both and reports both", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    const events = cs.write(0x12, Uint8Array.of(0x34, 0x12, 0x00, 0xc0));
    assert.equal(cs.readU32(0x10), 0x12340000);
    assert.equal(cs.readU32(0x14), 0x0000c001);
    assert.deepEqual(events, [
      { kind: "bar", index: 0, previous: 0n, address: 0x12340000n },
      { kind: "bar", index: 1, previous: 0n, address: 0xc000n },
    ]);
  });

  it("unimplemented BARs read 0 after all-ones", () => {
    const cs = ConfigSpace.fromSpec({ vendorId: 1, deviceId: 2, classCode: 0 });
    for (let o = 0x10; o < 0x28; o += 4) assert.equal(sized(o, cs), 0);
    assert.equal(sized(0x30, cs), 0, "no ROM");
    assert.equal(cs.bar(0), undefined);
    assert.equal(cs.rom(), undefined);
  });

  it("byte-wise sizing equals dword sizing", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    for (let o = 0x10; o < 0x28; o++) cs.writeU8(o, 0xff);
    const ref = ConfigSpace.fromSpec(FULL_SPEC);
    for (let o = 0x10; o < 0x28; o += 4) ref.writeU32(o, ONES);
    assert.deepEqual(cs.read(0x10, 24), ref.read(0x10, 24));
  });

  it("reset returns BARs to address 0 with type bits", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    for (let o = 0x10; o < 0x28; o += 4) cs.writeU32(o, ONES);
    cs.reset();
    assert.deepEqual(
      cs.bars().map((b) => b.address),
      [0n, 0n, 0n, 0n],
    );
    assert.equal(cs.readU32(0x18), 0xc);
  });

  it("sizing masks decode back to the configured sizes", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    const masks = [0, 1, 2, 3, 4, 5].map((i) => sized(0x10 + 4 * i, cs));
    cs.reset();
    const decoded = decodeBars(cs.snapshot(), masks);
    assert.deepEqual(
      decoded.map((b) => [b.index, b.kind, b.size, b.prefetchable]),
      [
        [0, "mem32", 0x4000n, false],
        [1, "io", 32n, false],
        [2, "mem64", 1n << 20n, true],
        [4, "mem64", 1n << 33n, false],
      ],
    );
  });
});

describe("expansion ROM", () => {
  it("sizes like a memory BAR and keeps the enable bit writable", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    cs.writeU32(0x30, 0xfffff800);
    assert.equal(cs.readU32(0x30), 0xffff0000);
    const mask = cs.readU32(0x30);
    cs.writeU32(0x30, ONES);
    assert.equal(cs.readU32(0x30), 0xffff0001);
    const events = cs.writeU32(0x30, 0xfeb40001);
    assert.deepEqual(events, [
      {
        kind: "rom",
        previous: { size: 0x10000, address: 0xffff0000, enabled: true },
        state: { size: 0x10000, address: 0xfeb40000, enabled: true },
      },
    ]);
    cs.writeU8(0x30, 0x00);
    assert.deepEqual(cs.rom(), { size: 0x10000, address: 0xfeb40000, enabled: false });
    assert.deepEqual(decodeRom(cs.snapshot(), mask), {
      address: 0xfeb40000,
      enabled: false,
      size: 0x10000,
      raw: 0xfeb40000,
    });
  });
});
