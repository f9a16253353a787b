/**
 * A kernel VFIO container (/dev/vfio/vfio) with the type1v2 IOMMU: the kernel-side
 * IOMMU domain that groups are attached to. DMA is mapped here once per container,
 * not per device, so every device backend of the container hands it the same
 * KernelContainer as its DmaTarget and the driver-level Container maps each window
 * once.
 */
import { existsSync } from "node:fs";
import { debuglog } from "node:util";
import { VfioError } from "../../errors.js";
import { hex } from "../../hex.js";
import { addressOf, closeFdQuietly, ioctl, memlockLimit, openDevice } from "../../sys/index.js";
import type { DmaMapRequest, DmaTarget } from "../backend.js";
import {
  dmaUnmap,
  encodeDmaMap,
  IOMMU_INFO_SIZE,
  type IommuInfo,
  iommuInfo,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
} from "./uapi.js";

const debug = debuglog("vfio-kernel");

/** The kernel's VFIO container node. */
export const VFIO_CONTAINER_PATH = "/dev/vfio/vfio";

export class KernelContainer implements DmaTarget {
  readonly fd: number;
  #info: IommuInfo | undefined;
  #users = 0;
  #closed = false;

  /** Opens /dev/vfio/vfio and checks the API version and type1v2 support. */
  static open(path = VFIO_CONTAINER_PATH): KernelContainer {
    let fd: number;
    try {
      fd = openDevice(path);
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT" && existsSync("/dev/iommu")) {
        throw new VfioError(
          "EOPNOTSUPP",
          `${path} does not exist but /dev/iommu does: this kernel offers VFIO only through ` +
            "iommufd and device cdevs (CONFIG_VFIO_GROUP=n), which vfio-ts does not implement; " +
            "it needs the type1 container and group interface",
          { cause: err },
        );
      }
      throw explainOpen(err, path, "the VFIO container (modprobe vfio vfio_iommu_type1 vfio-pci)");
    }
    try {
      let version: number;
      try {
        version = ioctl(fd, VFIO_GET_API_VERSION);
      } catch (err) {
        throw new VfioError(
          (err as VfioError).code === "ENOTTY" ? "ENOTTY" : "EIO",
          `${path} is not a VFIO container (VFIO_GET_API_VERSION: ${(err as Error).message})`,
          { cause: err },
        );
      }
      if (version !== VFIO_API_VERSION) {
        throw new VfioError(
          "EPROTO",
          `${path} speaks VFIO API ${version}, we speak ${VFIO_API_VERSION}`,
        );
      }
      if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) !== 1) {
        throw new VfioError(
          "ENODEV",
          "the kernel has no type1v2 IOMMU for VFIO (load vfio_iommu_type1; kernels before 3.16 lack v2)",
        );
      }
    } catch (err) {
      closeFdQuietly(fd);
      throw err;
    }
    return new KernelContainer(fd);
  }

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** The IOMMU's page sizes, IOVA ranges and free mapping count (after setIommu). */
  get info(): IommuInfo {
    if (this.#info === undefined) throw new VfioError("EINVAL", "the container has no IOMMU set");
    return this.#info;
  }

  /** VFIO_SET_IOMMU(type1v2), once the first group is attached; then reads the info. */
  setIommu(): void {
    if (this.#info !== undefined) return;
    ioctl(this.fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
    this.#info = this.readInfo();
  }

  /** VFIO_IOMMU_GET_INFO with its capability chain (asked again with the argsz it wants). */
  readInfo(): IommuInfo {
    let buf = iommuInfo.encode();
    ioctl(this.fd, VFIO_IOMMU_GET_INFO, buf);
    const want = iommuInfo.argsz(buf);
    if (want > IOMMU_INFO_SIZE) {
      if (want > 1 << 20) throw new VfioError("EPROTO", `VFIO_IOMMU_GET_INFO wants ${want} bytes`);
      buf = iommuInfo.encode(want);
      ioctl(this.fd, VFIO_IOMMU_GET_INFO, buf);
    }
    return iommuInfo.decode(buf);
  }

  /** A device backend took a reference; the fd closes when the last one lets go. */
  retain(): void {
    this.#users++;
  }

  /** Drops a device backend's reference; the container fd closes with the last one. */
  release(): void {
    if (--this.#users > 0) return;
    this.closeUnused();
  }

  /** Closes the container if no device uses it (e.g. after a failed open). */
  closeUnused(): void {
    if (this.#users > 0 || this.#closed) return;
    this.#closed = true;
    closeFdQuietly(this.fd);
  }

  /**
   * VFIO_IOMMU_MAP_DMA of the driver's own memory (`req.memory`), which the kernel pins.
   * Its ENOMEM for RLIMIT_MEMLOCK becomes advice on which limit to raise.
   */
  async dmaMap(req: DmaMapRequest): Promise<void> {
    const memory = req.memory;
    if (memory === undefined || BigInt(memory.byteLength) !== req.size) {
      throw new VfioError(
        "EINVAL",
        `kernel DMA map at iova ${hex(req.iova)}: the driver memory of the window is needed (the kernel maps virtual addresses)`,
      );
    }
    const vaddr = addressOf(memory);
    const page = this.info.pgsizes & -this.info.pgsizes;
    if (page !== 0n && vaddr % page !== 0n) {
      throw new VfioError(
        "EINVAL",
        `kernel DMA map at iova ${hex(req.iova)}: the memory at ${hex(vaddr)} is not ${page}-byte aligned (use Container.allocateBuffer)`,
      );
    }
    try {
      ioctl(
        this.fd,
        VFIO_IOMMU_MAP_DMA,
        encodeDmaMap(vaddr, req.iova, req.size, req.read, req.write),
      );
    } catch (err) {
      throw explainMapError(err, req);
    }
  }

  /** VFIO_IOMMU_UNMAP_DMA of exactly [iova, iova + size), unpinning its pages. */
  async dmaUnmap(iova: bigint, size: bigint): Promise<void> {
    const arg = dmaUnmap.encode(iova, size);
    ioctl(this.fd, VFIO_IOMMU_UNMAP_DMA, arg);
    const done = dmaUnmap.unmapped(arg);
    if (done !== size)
      debug("unmap %s+%s: the kernel unmapped %s", hex(iova), hex(size), hex(done));
  }
}

function explainMapError(err: unknown, req: DmaMapRequest): Error {
  const code = (err as { code?: string }).code;
  const what = `VFIO_IOMMU_MAP_DMA of ${hex(req.size)} bytes at iova ${hex(req.iova)}`;
  if (code === "ENOMEM") {
    const { soft } = memlockLimit();
    return new VfioError(
      "ENOMEM",
      `${what}: the kernel cannot pin that much memory for this process: RLIMIT_MEMLOCK is ` +
        `${soft === "unlimited" ? "unlimited" : `${soft} bytes`}; raise it (ulimit -l, LimitMEMLOCK= in ` +
        "systemd, or /etc/security/limits.conf) to cover every DMA buffer",
      { cause: err },
    );
  }
  if (code === "EEXIST") {
    return new VfioError("EEXIST", `${what}: overlaps an existing mapping`, { cause: err });
  }
  if (code === "EINVAL" || code === "EPERM") {
    return new VfioError(
      code,
      `${what}: refused by the kernel (${code}): outside the usable IOVA ranges, misaligned, or ` +
        "the mapping limit (dma_entry_limit) is reached",
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * One sentence for the ways opening a VFIO node fails: missing (no module, no such
 * group) or not ours (permissions).
 */
export function explainOpen(err: unknown, path: string, what: string): Error {
  const code = (err as { code?: string }).code;
  if (code === "ENOENT") {
    return new VfioError(
      "ENODEV",
      `${path} does not exist: ${what} is not there (is the vfio module loaded and the device bound to vfio-pci?)`,
      { cause: err },
    );
  }
  if (code === "EACCES" || code === "EPERM") {
    return new VfioError(
      "EACCES",
      `permission denied opening ${path}: ${what} belongs to another user; as root, chown it to ` +
        "the user who runs the driver (and raise that user's memlock limit)",
      { cause: err },
    );
  }
  if (code === "EBUSY") {
    return new VfioError(
      "EBUSY",
      `${path} is already open (${what} is in use by another process)`,
      {
        cause: err,
      },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
