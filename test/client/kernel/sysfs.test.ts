import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { PciSysfs, parsePciAddress } from "../../../src/client/kernel/sysfs.js";
import { VfioError } from "../../../src/errors.js";

/** A sysfs tree with one IOMMU group holding an edu (no driver) and a NIC (e1000e). */
function fakeSysfs(): string {
  const root = mkdtempSync(join(tmpdir(), "vfio-sysfs-"));
  const devs = join(root, "bus/pci/devices");
  const group = join(root, "kernel/iommu_groups/7/devices");
  mkdirSync(devs, { recursive: true });
  mkdirSync(group, { recursive: true });
  mkdirSync(join(root, "bus/pci/drivers/e1000e"), { recursive: true });
  for (const [addr, vendor, device] of [
    ["0000:00:03.0", "0x1234", "0x11e8"],
    ["0000:00:04.0", "0x8086", "0x10d3"],
  ] as const) {
    const d = join(root, "devices/pci0000:00", addr);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "vendor"), `${vendor}\n`);
    writeFileSync(join(d, "device"), `${device}\n`);
    writeFileSync(join(d, "driver_override"), "(null)\n");
    symlinkSync(join(root, "kernel/iommu_groups/7"), join(d, "iommu_group"));
    symlinkSync(d, join(devs, addr));
    symlinkSync(d, join(group, addr));
  }
  symlinkSync(join(root, "bus/pci/drivers/e1000e"), join(devs, "0000:00:04.0/driver"));
  return root;
}

describe("PCI addresses", () => {
  it("normalizes the forms lspci and sysfs use, and rejects everything else", () => {
    assert.equal(parsePciAddress("00:03.0"), "0000:00:03.0");
    assert.equal(parsePciAddress("1:a:1f.7"), "0001:0a:1f.7");
    assert.equal(parsePciAddress("0000:3B:00.1"), "0000:3b:00.1");
    for (const bad of ["", "00:20.0", "00:03", "00:03.8", "x:00:03.0", "0000:00:03.0 extra"]) {
      assert.throws(() => parsePciAddress(bad), /is not a PCI address/, bad);
    }
  });

  it("round-trips every address through its normalized form", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0x1f }),
        fc.integer({ min: 0, max: 7 }),
        (d, b, s, f) => {
          const a = `${d.toString(16)}:${b.toString(16)}:${s.toString(16)}.${f}`;
          const n = parsePciAddress(a);
          assert.match(n, /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
          assert.equal(parsePciAddress(n), n);
        },
      ),
    );
  });
});

describe("PciSysfs", () => {
  const root = fakeSysfs();
  after(() => rmSync(root, { recursive: true, force: true }));
  const sysfs = new PciSysfs(root);

  it("finds the group, its members, drivers and ids", () => {
    assert.equal(sysfs.iommuGroup("0000:00:03.0"), 7);
    assert.deepEqual(sysfs.groupDevices(7), ["0000:00:03.0", "0000:00:04.0"]);
    assert.equal(sysfs.driver("0000:00:03.0"), null);
    assert.equal(sysfs.driver("0000:00:04.0"), "e1000e");
    assert.equal(sysfs.ids("0000:00:03.0"), "1234:11e8");
  });

  it("says so when a device is missing or has no IOMMU group", () => {
    assert.throws(
      () => sysfs.iommuGroup("0000:00:09.0"),
      (e: unknown) =>
        e instanceof VfioError &&
        e.code === "ENODEV" &&
        /no PCI device 0000:00:09.0/.test(e.message),
    );
    const lonely = join(root, "devices/pci0000:00/0000:00:05.0");
    mkdirSync(lonely, { recursive: true });
    symlinkSync(lonely, join(root, "bus/pci/devices/0000:00:05.0"));
    assert.throws(() => sysfs.iommuGroup("0000:00:05.0"), /intel_iommu=on/);
  });

  it("refuses to bind when vfio-pci is not loaded, before touching the device", () => {
    assert.throws(() => sysfs.bindVfio("0000:00:04.0"), /modprobe vfio-pci/);
    const override = readFileSync(
      join(root, "bus/pci/devices/0000:00:04.0/driver_override"),
      "utf8",
    );
    assert.equal(override, "(null)\n");
  });

  it("writes driver_override, unbind and drivers_probe in that order when binding", () => {
    mkdirSync(join(root, "bus/pci/drivers/vfio-pci"), { recursive: true });
    writeFileSync(join(root, "bus/pci/drivers/e1000e/unbind"), "");
    writeFileSync(join(root, "bus/pci/drivers_probe"), "");
    // A fake tree has no kernel to act on the writes, so the bind is reported as failed,
    // but only after every write went where the kernel expects it.
    assert.throws(
      () => sysfs.bindVfio("0000:00:04.0"),
      /did not bind to vfio-pci \(its driver is e1000e\)/,
    );
    const dev = join(root, "bus/pci/devices/0000:00:04.0");
    assert.equal(readFileSync(join(dev, "driver_override"), "utf8"), "vfio-pci");
    assert.equal(readFileSync(join(root, "bus/pci/drivers/e1000e/unbind"), "utf8"), "0000:00:04.0");
    assert.equal(readFileSync(join(root, "bus/pci/drivers_probe"), "utf8"), "0000:00:04.0");
  });
});
