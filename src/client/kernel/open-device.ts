/**
 * Opening a real PCI device through the kernel's VFIO by its address: find its IOMMU
 * group in sysfs, open and attach the group to a type1v2 container, get the device fd,
 * and wrap it in the same DeviceHandle a vfio-user device gets.
 */
import { VfioError } from "../../errors.js";
import { DeviceHandle } from "../device-handle.js";
import { KernelDeviceBackend } from "./kernel-backend.js";
import type { KernelContainer } from "./kernel-container.js";
import { KernelGroup } from "./kernel-group.js";
import { PciSysfs, parsePciAddress, VFIO_PCI_DRIVER } from "./sysfs.js";

/** Options of openKernelDevice: the container to share, and where sysfs and /dev/vfio are. */
export interface KernelDeviceOptions {
  /**
   * Put the device's group in this VFIO container (so several devices share one IOMMU
   * domain); default a container of its own. Devices of one group always share.
   */
  container?: KernelContainer;
  /** Where sysfs is mounted; default /sys. */
  sysfsRoot?: string;
  /** Where VFIO's nodes are; default /dev/vfio. */
  devVfio?: string;
}

/**
 * Opens the PCI device at `address` ("0000:00:03.0" or "00:03.0") through /dev/vfio.
 * The device must be bound to vfio-pci (`vfio-ts bind`), its whole group viable, and
 * /dev/vfio/<group> accessible to this user. Each failure is one sentence that says
 * which of these is missing.
 */
export async function openKernelDevice(
  address: string,
  options: KernelDeviceOptions = {},
): Promise<DeviceHandle> {
  const addr = parsePciAddress(address);
  const sysfs = new PciSysfs(options.sysfsRoot);
  sysfs.checkExists(addr);
  const driver = sysfs.driver(addr);
  if (driver !== VFIO_PCI_DRIVER) {
    throw new VfioError(
      "ENODEV",
      `${addr} is bound to ${driver ?? "no driver"}, not vfio-pci: run \`vfio-ts bind ${addr}\` as root first`,
    );
  }
  const group = KernelGroup.acquire(sysfs.iommuGroup(addr), sysfs, {
    devVfio: options.devVfio,
    container: options.container,
  });
  let fd: number;
  try {
    fd = group.deviceFd(addr);
  } catch (err) {
    group.release();
    throw err;
  }
  // The backend owns the fd and the group reference from here on.
  const backend = new KernelDeviceBackend(addr, group, fd);
  try {
    return await DeviceHandle.open(backend, { name: addr });
  } catch (err) {
    await backend.close();
    throw err;
  }
}
