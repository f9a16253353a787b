/** Capability behaviour: MSI (all layouts), MSI-X, PM, PCIe, AER, DSN/VSEC. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigSpace,
  type ConfigSpec,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_VNDR,
} from "../../src/pci/index.js";
import { bytes, capOffset, full } from "./fixtures.js";

function msiDevice(vectors: number, addr64: boolean, perVectorMask: boolean): ConfigSpace {
  const spec: ConfigSpec = {
    vendorId: 0x1234,
    deviceId: 1,
    classCode: 0,
    capabilities: [{ kind: "msi", vectors, addr64, perVectorMask }],
  };
  return ConfigSpace.fromSpec(spec);
}

describe("MSI layouts", () => {
  // [addr64, perVectorMask, length, data offset, mask offset, pending offset]
  const layouts: [boolean, boolean, number, number, number, number][] = [
    [false, false, 10, 8, -1, -1],
    [true, false, 14, 12, -1, -1],
    [false, true, 20, 8, 12, 16],
    [true, true, 24, 12, 16, 20],
  ];
  for (const [addr64, pvm, length, dataOff, maskOff, pendOff] of layouts) {
    it(`${addr64 ? 64 : 32}-bit${pvm ? " with per-vector masking" : ""}: ${length} bytes`, () => {
      const cs = msiDevice(8, addr64, pvm);
      const off = capOffset(cs, PCI_CAP_ID_MSI);
      assert.equal(cs.findCapability(PCI_CAP_ID_MSI)?.length, length);
      cs.writeU32(off + 4, 0xfee01003);
      if (addr64) cs.writeU32(off + 8, 0x12345678);
      cs.writeU16(off + dataOff, 0x4a20);
      const events = cs.writeU16(off + 2, 0x0031); // enable, 8 vectors
      assert.equal(events.length, 1);
      assert.equal(events[0]?.kind, "msi");
      const s = cs.msi()!;
      assert.equal(s.enabled, true);
      assert.equal(s.capableVectors, 8);
      assert.equal(s.enabledVectors, 8);
      assert.equal(s.address, addr64 ? 0x12345678_fee01000n : 0xfee01000n);
      assert.equal(s.data, 0x4a20);
      assert.deepEqual(cs.msiMessage(5), { address: s.address, data: 0x4a25 });
      assert.throws(() => cs.msiMessage(8), { code: "EINVAL" });
      // Bytes past the layout belong to nobody.
      assert.equal(cs.ownerAt(off + length), undefined);
      if (pvm) {
        cs.writeU32(off + maskOff, 0xffffffff);
        assert.equal(cs.msi()!.maskBits, 0xff, "only implemented mask bits stick");
        assert.ok(cs.msiMasked(7));
        cs.writeU32(off + pendOff, 0xffffffff);
        assert.equal(cs.msi()!.pendingBits, 0, "pending is read-only to the client");
        cs.setMsiPending(3, true);
        assert.equal(cs.readU32(off + pendOff), 0x8);
        cs.setMsiPending(3, false);
        assert.equal(cs.readU32(off + pendOff), 0);
        assert.throws(() => cs.setMsiPending(8, true), { code: "EINVAL" });
      } else {
        assert.equal(cs.msiMasked(0), false);
        assert.throws(() => cs.setMsiPending(0, true), { code: "EINVAL" });
      }
    });
  }

  it("Multiple Message Enable is clamped to Multiple Message Capable", () => {
    for (const vectors of [1, 2, 4, 8, 16, 32]) {
      const cs = msiDevice(vectors, false, false);
      const off = capOffset(cs, PCI_CAP_ID_MSI);
      cs.writeU8(off + 2, 0x71);
      assert.equal(cs.msi()!.enabledVectors, vectors);
      assert.equal((cs.readU8(off + 2) >> 4) & 7, Math.log2(vectors));
    }
  });

  it("capable, 64-bit and per-vector-mask flags are fixed", () => {
    const cs = msiDevice(4, false, false);
    const off = capOffset(cs, PCI_CAP_ID_MSI);
    cs.writeU16(off + 2, 0xffff);
    assert.equal(cs.readU16(off + 2), 0x0025); // enable, MME=4, MMC=4
    const s = cs.msi()!;
    assert.deepEqual([s.capableVectors, s.addr64, s.perVectorMask], [4, false, false]);
  });

  it("32 vectors: all mask bits implemented", () => {
    const cs = msiDevice(32, true, true);
    const off = capOffset(cs, PCI_CAP_ID_MSI);
    cs.writeU32(off + 16, 0xffffffff);
    assert.equal(cs.msi()!.maskBits, 0xffffffff);
  });

  it("address low bits are reserved (dword aligned)", () => {
    const cs = msiDevice(1, false, false);
    const off = capOffset(cs, PCI_CAP_ID_MSI);
    cs.writeU32(off + 4, 0xffffffff);
    assert.equal(cs.readU32(off + 4), 0xfffffffc);
  });
});

describe("MSI-X", () => {
  it("only enable and function mask are writable; events report them", () => {
    const cs = full();
    const off = capOffset(cs, PCI_CAP_ID_MSIX);
    const before = cs.read(off, 12);
    const events = cs.write(off, new Uint8Array(12).fill(0xff));
    const s = cs.msix()!;
    assert.deepEqual(
      { ...s },
      {
        offset: off,
        enabled: true,
        functionMask: true,
        tableSize: 16,
        tableBar: 0,
        tableOffset: 0x2000,
        pbaBar: 0,
        pbaOffset: 0x3000,
      },
    );
    assert.deepEqual(cs.read(off + 4, 8), before.subarray(4, 12));
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, "msix");
    assert.deepEqual(
      cs.writeU16(off + 2, 0x8000).map((e) => e.kind),
      ["msix"],
    );
    assert.equal(cs.msix()!.functionMask, false);
    assert.deepEqual(cs.writeU16(off + 2, 0x8000), []);
  });
});

describe("power management", () => {
  it("D0 <-> D3hot with events; D1/D2 writes are discarded", () => {
    const cs = full();
    const off = capOffset(cs, PCI_CAP_ID_PM);
    assert.deepEqual(cs.writeU16(off + 4, 3), [
      { kind: "power", previous: 0, state: 3, noSoftReset: true },
    ]);
    assert.equal(cs.powerState, 3);
    assert.deepEqual(cs.writeU16(off + 4, 1), []);
    assert.equal(cs.powerState, 3);
    cs.writeU8(off + 4, 2);
    assert.equal(cs.powerState, 3);
    assert.deepEqual(cs.writeU8(off + 4, 0), [
      { kind: "power", previous: 3, state: 0, noSoftReset: true },
    ]);
  });

  it("PME status is RW1C, PME enable writable", () => {
    const cs = full();
    const off = capOffset(cs, PCI_CAP_ID_PM);
    cs.deviceWrite(off + 5, bytes(0x80));
    cs.writeU8(off + 5, 0x01);
    assert.equal(cs.readU8(off + 5), 0x81);
    cs.writeU8(off + 5, 0x80);
    assert.equal(cs.readU8(off + 5), 0x00);
  });
});

describe("PCI Express", () => {
  it("Initiate FLR is a strobe: event, reads 0", () => {
    const cs = full();
    const off = capOffset(cs, PCI_CAP_ID_EXP);
    const devctl = cs.readU16(off + 8);
    assert.deepEqual(cs.writeU16(off + 8, devctl | 0x8000), [{ kind: "flr" }]);
    assert.equal(cs.readU16(off + 8), devctl);
    assert.deepEqual(cs.writeU16(off + 8, devctl), []);
  });

  it("device control/status: writable subset and RW1C errors", () => {
    const cs = full();
    const off = capOffset(cs, PCI_CAP_ID_EXP);
    cs.writeU16(off + 8, 0x7fff);
    assert.equal(cs.readU16(off + 8), 0x7dff, "phantom functions stay off");
    cs.deviceWrite(off + 10, bytes(0x3f, 0));
    cs.writeU16(off + 10, 0x0005);
    assert.equal(cs.readU16(off + 10), 0x3a);
    cs.writeU16(off + 0x28, 0xffff);
    assert.equal(cs.readU16(off + 0x28), 0x1f);
    cs.writeU32(off + 4, 0);
    assert.equal(cs.readU32(off + 4) & 0x10000000, 0x10000000, "DEVCAP is fixed");
  });
});

describe("extended capabilities", () => {
  it("AER: status RW1C, masks and severity writable with spec defaults", () => {
    const cs = full();
    const off = capOffset(cs, PCI_EXT_CAP_ID_ERR, true);
    assert.equal(cs.readU32(off + 12), 0x00062030, "default severity");
    assert.equal(cs.readU32(off + 20), 0x00002000, "advisory non-fatal masked by default");
    cs.deviceWrite(off + 4, bytes(0x10, 0x10, 0x10, 0));
    cs.writeU32(off + 4, 0x1000);
    assert.equal(cs.readU32(off + 4), 0x00100010);
    cs.writeU32(off + 8, 0xffffffff);
    assert.equal(cs.readU32(off + 8), 0x001ff030);
  });

  it("DSN and VSEC are read-only", () => {
    const cs = full();
    const dsn = capOffset(cs, PCI_EXT_CAP_ID_DSN, true);
    const vsec = capOffset(cs, PCI_EXT_CAP_ID_VNDR, true);
    const before = cs.snapshot();
    cs.write(dsn, new Uint8Array(12));
    cs.write(vsec, new Uint8Array(16).fill(0xff));
    assert.deepEqual(cs.snapshot(), before);
    assert.equal(cs.readU32(dsn + 4), 0x44556677);
    assert.equal(cs.readU32(dsn + 8), 0x00112233);
    assert.equal(cs.readU32(vsec + 4), (16 << 20) | (1 << 16) | 0x42);
  });
});
