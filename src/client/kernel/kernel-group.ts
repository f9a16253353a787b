/**
 * A VFIO group (/dev/vfio/N): the unit of isolation the IOMMU can guarantee. The
 * kernel hands out device fds only once the whole group is viable (every member bound
 * to vfio-pci or to no driver) and attached to a container with an IOMMU set. A group
 * node can be open only once at a time, so a process keeps one KernelGroup per group
 * and its devices share it (and so share its container).
 */
import { VfioError } from "../../errors.js";
import { closeFdQuietly, ioctl, openDevice } from "../../sys/index.js";
import { explainOpen, KernelContainer } from "./kernel-container.js";
import type { PciAddress, PciSysfs } from "./sysfs.js";
import { VFIO_PCI_DRIVER } from "./sysfs.js";
import {
  containerFdArg,
  deviceNameArg,
  groupStatus,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
} from "./uapi.js";

/** Where to find VFIO's nodes and which container a group joins. */
export interface KernelGroupOptions {
  /** Where VFIO's nodes live; default /dev/vfio. */
  devVfio?: string;
  /** The container to join; default a new one, private to this group's devices. */
  container?: KernelContainer;
}

const open = new Map<string, KernelGroup>();

/**
 * An IOMMU group open through /dev/vfio/N: the unit the kernel isolates, shared by every device of
 * the group in this process.
 */
export class KernelGroup {
  readonly number: number;
  readonly path: string;
  readonly fd: number;
  readonly container: KernelContainer;
  #users = 0;

  /**
   * The group, opened and attached to a container, or the one this process already
   * has open (a group node is exclusive). Checks viability first and names the
   * members that keep it from being viable.
   */
  static acquire(group: number, sysfs: PciSysfs, options: KernelGroupOptions = {}): KernelGroup {
    const path = `${options.devVfio ?? "/dev/vfio"}/${group}`;
    const existing = open.get(path);
    if (existing !== undefined) {
      if (options.container !== undefined && options.container !== existing.container) {
        throw new VfioError(
          "EBUSY",
          `IOMMU group ${group} is already open in another container of this process`,
        );
      }
      existing.#users++;
      return existing;
    }
    let fd: number;
    try {
      fd = openDevice(path);
    } catch (err) {
      throw explainOpen(err, path, `IOMMU group ${group}`);
    }
    let container = options.container;
    const ownsContainer = container === undefined;
    try {
      const status = groupStatus.encode();
      ioctl(fd, VFIO_GROUP_GET_STATUS, status);
      if ((groupStatus.flags(status) & VFIO_GROUP_FLAGS_VIABLE) === 0) {
        throw notViable(group, sysfs);
      }
      container ??= KernelContainer.open(`${options.devVfio ?? "/dev/vfio"}/vfio`);
      ioctl(fd, VFIO_GROUP_SET_CONTAINER, containerFdArg(container.fd));
      container.setIommu();
    } catch (err) {
      closeFdQuietly(fd);
      if (ownsContainer) container?.closeUnused();
      throw err;
    }
    const g = new KernelGroup(group, path, fd, container);
    open.set(path, g);
    return g;
  }

  private constructor(number: number, path: string, fd: number, container: KernelContainer) {
    this.number = number;
    this.path = path;
    this.fd = fd;
    this.container = container;
    this.#users = 1;
    container.retain();
  }

  /** VFIO_GROUP_GET_DEVICE_FD: the device fd (owned by the caller). */
  deviceFd(address: PciAddress): number {
    try {
      return ioctl(this.fd, VFIO_GROUP_GET_DEVICE_FD, deviceNameArg(address));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "EINVAL" || code === "ENODEV") {
        throw new VfioError(
          "ENODEV",
          `${address} is not in IOMMU group ${this.number} or not bound to vfio-pci`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Drops one device's reference; the last one detaches the group and closes it. */
  release(): void {
    if (--this.#users > 0) return;
    open.delete(this.path);
    try {
      ioctl(this.fd, VFIO_GROUP_UNSET_CONTAINER);
    } catch {
      // Closing the group fd detaches it as well.
    }
    closeFdQuietly(this.fd);
    this.container.release();
  }
}

function notViable(group: number, sysfs: PciSysfs): VfioError {
  let members: string[] = [];
  try {
    members = sysfs
      .groupDevices(group)
      .map((d) => ({ d, driver: sysfs.driver(d) }))
      .filter(({ driver }) => driver !== null && driver !== VFIO_PCI_DRIVER)
      .map(({ d, driver }) => `${d} (bound to ${driver})`);
  } catch {
    // sysfs unreadable: say what we know.
  }
  return new VfioError(
    "EBUSY",
    `IOMMU group ${group} is not viable: every device in it must be bound to vfio-pci or ` +
      `to no driver${members.length > 0 ? `; these are not: ${members.join(", ")}` : ""}`,
  );
}
