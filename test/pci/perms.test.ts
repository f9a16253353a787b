/**
 * Table-driven permission checks: for every byte of the header and of each
 * capability, which bits the client can write, which are RW1C, and which the
 * device model drives. Expected masks come from the PCI specifications, and
 * each byte is measured through the public API (probe), not by reading tables.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigSpace,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_VNDR,
} from "../../src/pci/index.js";
import { CONVENTIONAL_SPEC, capOffset, FULL_SPEC, probe } from "./fixtures.js";

interface Expect {
  w?: number;
  c?: number;
  d?: number;
  /** What the probe sees when a filter refines writes (write mask stays `w`). */
  probeW?: number;
}

/** Spreads little-endian masks of a `size`-byte field over its bytes. */
function field(
  off: number,
  size: number,
  m: { w?: number; c?: number; d?: number },
): [number, Expect][] {
  const out: [number, Expect][] = [];
  for (let i = 0; i < size; i++) {
    const b = (v: number | undefined) =>
      v === undefined ? undefined : Math.floor(v / 2 ** (8 * i)) & 0xff;
    out.push([off + i, { w: b(m.w), c: b(m.c), d: b(m.d) }]);
  }
  return out;
}

/** Same masks for every byte of a block (payloads, logs). */
function block(off: number, size: number, m: Expect): [number, Expect][] {
  return Array.from({ length: size }, (_, i) => [off + i, m] as [number, Expect]);
}

function checkRegion(
  cs: ConfigSpace,
  start: number,
  length: number,
  table: Map<number, Expect>,
): void {
  for (let rel = 0; rel < length; rel++) {
    const o = start + rel;
    const e = table.get(rel) ?? {};
    const got = probe(cs, o);
    const where = `byte ${rel} (config ${o.toString(16)}, ${cs.fieldAt(o)})`;
    assert.equal(got.write, e.probeW ?? e.w ?? 0, `${where}: writable bits`);
    assert.equal(got.rw1c, e.c ?? 0, `${where}: RW1C bits`);
    assert.equal(got.dev, e.d ?? 0, `${where}: device-owned bits`);
    const p = cs.permissionsAt(o);
    assert.equal(p.write, e.w ?? 0, `${where}: table write mask`);
    assert.equal(p.rw1c, e.c ?? 0, `${where}: table rw1c mask`);
    assert.equal(p.virt, 0xff & ~(e.d ?? 0), `${where}: table virt mask`);
  }
}

describe("header permissions", () => {
  const headerTable = (express: boolean) =>
    new Map<number, Expect>([
      ...field(0x04, 2, { w: 0x0547 }), // IO, MEMORY, MASTER, PARITY, SERR, INTX_DISABLE
      ...field(0x06, 2, { c: 0xf900, d: 0xf900 }), // error bits
      [0x0c, { w: 0xff }],
      [0x0d, { w: express ? 0 : 0xff }],
      ...field(0x3c, 1, { w: 0xff }),
    ]);

  it("Express function: BARs, ROM and header fields byte by byte", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    const t = headerTable(true);
    for (const [o, e] of [
      ...field(0x10, 4, { w: 0xffffc000 }), // mem32 16 KiB
      ...field(0x14, 4, { w: 0xffffffe0 }), // io 32
      ...field(0x18, 4, { w: 0xfff00000 }), // mem64 1 MiB, lower
      ...field(0x1c, 4, { w: 0xffffffff }), // its upper dword
      ...field(0x20, 4, { w: 0 }), // mem64 8 GiB: no lower address bits
      ...field(0x24, 4, { w: 0xfffffffe }),
      ...field(0x30, 4, { w: 0xffff0001 }), // ROM 64 KiB + enable
    ]) {
      t.set(o, e);
    }
    checkRegion(cs, 0, 64, t);
  });

  it("conventional function: latency timer writable, unimplemented BARs and ROM hardwired", () => {
    const cs = ConfigSpace.fromSpec(CONVENTIONAL_SPEC);
    const t = headerTable(false);
    for (const [o, e] of field(0x10, 4, { w: 0xfffff000 })) t.set(o, e);
    checkRegion(cs, 0, 64, t);
  });
});

describe("capability permissions", () => {
  const cs = ConfigSpace.fromSpec(FULL_SPEC);
  const cases: [string, number, boolean, number, [number, Expect][]][] = [
    [
      "power management (PME supported)",
      PCI_CAP_ID_PM,
      false,
      8,
      [
        [4, { w: 0x03 }],
        [5, { w: 0x01, c: 0x80, d: 0x80 }],
      ],
    ],
    [
      "MSI 64-bit with per-vector masking, 4 vectors",
      PCI_CAP_ID_MSI,
      false,
      24,
      [
        [2, { w: 0x71, probeW: 0x21 }], // MME clamps to Multiple Message Capable (4)
        ...field(4, 4, { w: 0xfffffffc }),
        ...field(8, 4, { w: 0xffffffff }),
        ...field(12, 2, { w: 0xffff }),
        ...field(16, 4, { w: 0x0000000f }),
        ...field(20, 4, { d: 0x0000000f }),
      ],
    ],
    ["MSI-X", PCI_CAP_ID_MSIX, false, 12, [...field(2, 2, { w: 0xc000 })]],
    [
      "PCI Express endpoint v2",
      PCI_CAP_ID_EXP,
      false,
      60,
      [
        ...field(8, 2, { w: 0x7dff }), // DEVCTL (FLR is a strobe, reads 0)
        ...field(10, 2, { c: 0x000f, d: 0x003f }), // DEVSTA
        ...field(16, 2, { w: 0x00cb }), // LNKCTL
        ...field(18, 2, { d: 0xffff }), // LNKSTA
        ...field(40, 2, { w: 0x001f }), // DEVCTL2
        ...field(50, 2, { d: 0xffff }), // LNKSTA2
      ],
    ],
    ["vendor-specific", PCI_CAP_ID_VNDR, false, 8, [...block(3, 5, { d: 0xff })]],
    [
      "AER",
      PCI_EXT_CAP_ID_ERR,
      true,
      0x48,
      [
        ...field(4, 4, { c: 0x001ff030, d: 0x001ff030 }),
        ...field(8, 4, { w: 0x001ff030 }),
        ...field(12, 4, { w: 0x001ff030 }),
        ...field(16, 4, { c: 0x0000f1c1, d: 0x0000f1c1 }),
        ...field(20, 4, { w: 0x0000f1c1 }),
        ...field(24, 4, { d: 0x1f }),
        ...block(28, 16, { d: 0xff }),
        ...block(56, 16, { d: 0xff }),
      ],
    ],
    ["DSN", PCI_EXT_CAP_ID_DSN, true, 12, []],
    ["VSEC", PCI_EXT_CAP_ID_VNDR, true, 16, [...block(8, 8, { d: 0xff })]],
  ];
  for (const [name, id, extended, length, entries] of cases) {
    it(`${name}: every byte`, () => {
      const cap = cs.findCapability(id, extended);
      assert.ok(cap, `${name} present`);
      assert.equal(cap.length, length);
      checkRegion(cs, cap.offset, length, new Map(entries));
    });
  }

  it("PM without PME sources: PME_En is hardwired", () => {
    const pmOnly = ConfigSpace.fromSpec({
      ...FULL_SPEC,
      capabilities: [{ kind: "pm" }],
      extendedCapabilities: [],
    });
    checkRegion(
      pmOnly,
      capOffset(pmOnly, PCI_CAP_ID_PM),
      8,
      new Map([
        [4, { w: 0x03 }],
        [5, { c: 0x80, d: 0x80 }],
      ]),
    );
  });

  it("PCIe without FLR: DEVCTL bit 15 is neither writable nor a strobe", () => {
    const noFlr = ConfigSpace.fromSpec({
      ...CONVENTIONAL_SPEC,
      capabilities: [{ kind: "pcie", flr: false }],
    });
    const off = capOffset(noFlr, PCI_CAP_ID_EXP);
    assert.equal(noFlr.permissionsAt(off + 9).strobe, 0);
    assert.deepEqual(noFlr.writeU16(off + 8, 0x8000), []);
  });

  it("bytes owned by nobody read 0, drop writes, and cannot be set by the device", () => {
    let unowned = 0;
    for (let o = 0; o < cs.size; o++) {
      if (cs.ownerAt(o) !== undefined) continue;
      unowned++;
      assert.deepEqual(probe(cs, o), { write: 0, rw1c: 0, dev: 0 }, `byte ${o}`);
      assert.equal(cs.readU8(o), 0);
    }
    assert.ok(unowned > 3000, "most of extended space is unowned");
  });
});
