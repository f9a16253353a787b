/**
 * What the kernel says about a PCI device in sysfs: its IOMMU group, the group's other
 * members, the driver it is bound to, and the driver_override dance that hands it to
 * vfio-pci and back. The root is a parameter so tests can point it at a fake tree.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { VfioError } from "../../errors.js";

/** "dddd:bb:dd.f" in lower case, as sysfs names PCI devices. */
export type PciAddress = string;

const ADDRESS = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i;

/**
 * Normalizes "0000:00:03.0", "00:03.0" or "0:3.0" to "0000:00:03.0"; a clear EINVAL
 * for anything else.
 */
export function parsePciAddress(text: string): PciAddress {
  const m = ADDRESS.exec(text.trim());
  const [, domain = "0", bus = "", dev = "", fn = ""] = m ?? [];
  if (m === null || Number.parseInt(dev, 16) > 0x1f) {
    throw new VfioError(
      "EINVAL",
      `"${text}" is not a PCI address: expected domain:bus:device.function, e.g. 0000:00:03.0`,
    );
  }
  const pad = (s: string, n: number) => s.toLowerCase().padStart(n, "0");
  return `${pad(domain, 4)}:${pad(bus, 2)}:${pad(dev, 2)}.${fn}`;
}

/** The kernel driver a device must be bound to for VFIO (see `vfio-ts bind`). */
export const VFIO_PCI_DRIVER = "vfio-pci";

/**
 * Reads a PCI device's sysfs entries (driver, IOMMU group, ids) to open it through VFIO and explain
 * why not.
 */
export class PciSysfs {
  /** `root` is where sysfs is mounted; `/sys` on a real system. */
  constructor(readonly root = "/sys") {}

  /** The sysfs directory of the device at `address`. */
  devicePath(address: PciAddress): string {
    return join(this.root, "bus/pci/devices", address);
  }

  /** Throws ENODEV naming the address when the device is not there. */
  checkExists(address: PciAddress): void {
    if (!existsSync(this.devicePath(address))) {
      throw new VfioError(
        "ENODEV",
        `no PCI device ${address} on this system (nothing at ${this.devicePath(address)})`,
      );
    }
  }

  /** The number of the device's IOMMU group. */
  iommuGroup(address: PciAddress): number {
    this.checkExists(address);
    let link: string;
    try {
      link = readlinkSync(join(this.devicePath(address), "iommu_group"));
    } catch {
      throw new VfioError(
        "ENODEV",
        `${address} has no IOMMU group: the kernel runs without an IOMMU for it ` +
          "(boot with intel_iommu=on or amd_iommu=on, and check that the platform has one)",
      );
    }
    return Number.parseInt(basename(link), 10);
  }

  /** Every device in IOMMU group `group`, sorted. */
  groupDevices(group: number): PciAddress[] {
    return readdirSync(join(this.root, "kernel/iommu_groups", String(group), "devices")).sort();
  }

  /** The name of the driver bound to the device, or null. */
  driver(address: PciAddress): string | null {
    try {
      return basename(readlinkSync(join(this.devicePath(address), "driver")));
    } catch {
      return null;
    }
  }

  /** The host IRQ the device's INTx is routed to (sysfs `irq`), if any. */
  irq(address: PciAddress): number | undefined {
    try {
      const n = Number.parseInt(readFileSync(join(this.devicePath(address), "irq"), "utf8"), 10);
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** "vendor:device" in hex, as lspci -n prints it. */
  ids(address: PciAddress): string {
    const read = (f: string) =>
      readFileSync(join(this.devicePath(address), f), "utf8")
        .trim()
        .replace(/^0x/, "");
    return `${read("vendor")}:${read("device")}`;
  }

  /**
   * Binds the device to vfio-pci: driver_override, unbind from its current driver,
   * drivers_probe. Returns the driver it had (null for none). Needs root.
   */
  bindVfio(address: PciAddress): string | null {
    this.checkExists(address);
    const previous = this.driver(address);
    if (previous === VFIO_PCI_DRIVER) return previous;
    if (!existsSync(join(this.root, "bus/pci/drivers", VFIO_PCI_DRIVER))) {
      throw new VfioError(
        "ENODEV",
        "the vfio-pci driver is not loaded: run `modprobe vfio-pci` (as root) first",
      );
    }
    this.#write(join(this.devicePath(address), "driver_override"), VFIO_PCI_DRIVER, address);
    if (previous !== null) {
      this.#write(join(this.devicePath(address), "driver/unbind"), address, address);
    }
    this.#write(join(this.root, "bus/pci/drivers_probe"), address, address);
    const now = this.driver(address);
    if (now !== VFIO_PCI_DRIVER) {
      throw new VfioError(
        "EIO",
        `${address} did not bind to vfio-pci (its driver is ${now ?? "none"}); see dmesg`,
      );
    }
    return previous;
  }

  /**
   * Gives the device back: clears driver_override, unbinds it from vfio-pci and lets
   * the kernel probe its own driver. Returns the driver it ends up with.
   */
  unbindVfio(address: PciAddress): string | null {
    this.checkExists(address);
    this.#write(join(this.devicePath(address), "driver_override"), "\n", address);
    if (this.driver(address) === VFIO_PCI_DRIVER) {
      this.#write(join(this.devicePath(address), "driver/unbind"), address, address);
    }
    this.#write(join(this.root, "bus/pci/drivers_probe"), address, address);
    return this.driver(address);
  }

  #write(path: string, value: string, address: PciAddress): void {
    try {
      writeFileSync(path, value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "EIO";
      const why =
        code === "EACCES" || code === "EPERM"
          ? "permission denied: binding drivers needs root"
          : (err as Error).message;
      throw new VfioError(code === "EACCES" ? "EACCES" : "EIO", `${address}: ${path}: ${why}`, {
        cause: err,
      });
    }
  }
}
