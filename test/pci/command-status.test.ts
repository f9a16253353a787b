/** COMMAND/STATUS behaviour, events, reset and ownership. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigSpace,
  PCI_CAP_ID_MSI,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_SIG_TARGET_ABORT,
} from "../../src/pci/index.js";
import { bytes, CONVENTIONAL_SPEC, FULL_SPEC, full } from "./fixtures.js";

describe("COMMAND", () => {
  it("tracks IO, MEMORY, MASTER and INTX_DISABLE; other bits stay 0", () => {
    const cs = full();
    cs.writeU16(4, 0xffff);
    assert.equal(cs.command, 0x0547);
    assert.ok(cs.ioEnabled && cs.memoryEnabled && cs.busMasterEnabled && cs.intxDisabled);
    cs.writeU16(4, PCI_COMMAND_MEMORY);
    assert.deepEqual(
      [cs.ioEnabled, cs.memoryEnabled, cs.busMasterEnabled, cs.intxDisabled],
      [false, true, false, false],
    );
  });

  it("reports changes as events, and nothing when unchanged", () => {
    const cs = full();
    assert.deepEqual(cs.writeU16(4, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), [
      { kind: "command", previous: 0, value: PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER },
    ]);
    assert.deepEqual(cs.writeU16(4, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), []);
    assert.deepEqual(cs.writeU8(5, PCI_COMMAND_INTX_DISABLE >> 8), [
      {
        kind: "command",
        previous: PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
        value: PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE,
      },
    ]);
    // Writing read-only bits alone changes nothing.
    assert.deepEqual(cs.writeU8(4, 0xb8 | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), []);
    assert.deepEqual(cs.writeU16(4, PCI_COMMAND_IO), [
      { kind: "command", previous: 0x0406, value: PCI_COMMAND_IO },
    ]);
  });
});

describe("STATUS", () => {
  it("CAP_LIST reflects whether capabilities exist and cannot be written", () => {
    const withCaps = full();
    const none = ConfigSpace.fromSpec({ vendorId: 1, deviceId: 1, classCode: 0 });
    assert.equal(withCaps.readU16(6) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
    assert.equal(none.readU16(6) & PCI_STATUS_CAP_LIST, 0);
    withCaps.writeU16(6, 0xffff);
    none.writeU16(6, 0xffff);
    assert.equal(withCaps.readU16(6) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
    assert.equal(none.readU16(6), 0);
  });

  it("INTERRUPT mirrors setIntxAsserted regardless of INTX_DISABLE, and is read-only", () => {
    const cs = full();
    cs.setIntxAsserted(true);
    assert.equal(cs.readU16(6) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    cs.writeU16(6, 0xffff);
    cs.writeU16(4, PCI_COMMAND_INTX_DISABLE);
    assert.ok(cs.intxAsserted);
    cs.deviceWrite(6, bytes(0, 0));
    assert.ok(cs.intxAsserted, "device writes cannot touch the virtual INTx bit");
    cs.setIntxAsserted(false);
    assert.equal(cs.readU16(6) & PCI_STATUS_INTERRUPT, 0);
    cs.setIntxAsserted(true);
    cs.reset();
    assert.equal(cs.intxAsserted, false, "reset deasserts");
  });

  it("error bits: raised by the device, cleared by writing 1, kept by writing 0", () => {
    const cs = full();
    const errs = PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT;
    cs.deviceWrite(6, bytes(errs & 0xff, errs >> 8));
    assert.equal(cs.readU16(6) & errs, errs);
    cs.writeU16(6, 0);
    assert.equal(cs.readU16(6) & errs, errs);
    cs.writeU16(6, PCI_STATUS_REC_MASTER_ABORT);
    assert.equal(cs.readU16(6) & errs, PCI_STATUS_SIG_TARGET_ABORT);
  });
});

describe("reset, ownership and access bounds", () => {
  it("reset restores the initial image after arbitrary programming", () => {
    const cs = full();
    const initial = cs.initialImage();
    cs.writeU16(4, 0xffff);
    for (let o = 0x10; o < 0x34; o += 4) cs.writeU32(o, 0xffffffff);
    cs.writeU32(0x3c, 0xffffffff);
    const msi = cs.findCapability(PCI_CAP_ID_MSI)!.offset;
    cs.write(msi, new Uint8Array(24).fill(0xff));
    cs.deviceWrite(0, new Uint8Array(cs.size).fill(0xff));
    assert.notDeepEqual(cs.snapshot(), initial);
    cs.reset();
    assert.deepEqual(cs.snapshot(), initial);
    assert.deepEqual(cs.read(0, cs.size), initial);
  });

  it("owner map and field names", () => {
    const cs = full();
    assert.equal(cs.ownerAt(0x04), "header");
    assert.equal(cs.fieldAt(0x05), "COMMAND");
    const msi = cs.findCapability(PCI_CAP_ID_MSI)!;
    assert.equal(cs.ownerAt(msi.offset + 5), msi);
    assert.equal(cs.fieldAt(msi.offset + 12), "MSI data");
    assert.equal(cs.ownerAt(0xff), undefined);
    assert.equal(cs.fieldAt(0xfff), undefined);
  });

  it("config size is 4 KiB with PCI Express, 256 bytes without", () => {
    assert.equal(full().size, 4096);
    assert.equal(ConfigSpace.fromSpec(CONVENTIONAL_SPEC).size, 256);
    assert.equal(ConfigSpace.fromSpec({ ...FULL_SPEC, extendedCapabilities: [] }).size, 4096);
  });

  it("rejects accesses outside config space with EINVAL", () => {
    const cs = ConfigSpace.fromSpec(CONVENTIONAL_SPEC);
    for (const [o, n] of [
      [256, 1],
      [255, 2],
      [-1, 1],
      [1.5, 1],
    ] as const) {
      assert.throws(() => cs.read(o, n), { code: "EINVAL" });
      assert.throws(() => cs.write(o, new Uint8Array(n)), { code: "EINVAL" });
    }
    assert.equal(cs.read(256, 0).length, 0);
    assert.deepEqual(cs.write(0, new Uint8Array(0)), []);
  });

  it("identity fields cannot be changed by the client or the device", () => {
    const cs = full();
    const id = cs.read(0, 4);
    cs.write(0, bytes(0, 0, 0, 0));
    cs.deviceWrite(0, bytes(0, 0, 0, 0));
    cs.write(0x2c, bytes(0, 0, 0, 0));
    assert.deepEqual(cs.read(0, 4), id);
    assert.equal(cs.readU32(0x2c), 0x00011af4);
    assert.equal(cs.readU32(0x08), 0x01080202);
  });
});
