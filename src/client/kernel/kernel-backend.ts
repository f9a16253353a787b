/**
 * DeviceBackend over a kernel VFIO device fd: the ioctls of linux/vfio.h and pread/
 * pwrite at region offsets. Like every backend it only moves requests; DeviceHandle
 * and Container keep the policy (MMIO blocking, IRQ bookkeeping, IOMMU rules), so a
 * driver runs over the kernel exactly as it runs over a vfio-user socket.
 */
import { VfioError } from "../../errors.js";
import type { FeatureData } from "../../protocol/index.js";
import { closeFdQuietly, dupFd, ioctl, pread, pwrite, SysError } from "../../sys/index.js";
import type {
  BackendLimits,
  DeviceBackend,
  DeviceInfo,
  DmaMapRequest,
  DmaRequestHandler,
  DmaTarget,
  IrqInfo,
  IrqSet,
  RegionInfo,
} from "../backend.js";
import { regionName, VFIO_REGION_INFO_FLAG_MMAP } from "../vfio-abi.js";
import { KernelFeatures } from "./kernel-features.js";
import type { KernelGroup } from "./kernel-group.js";
import type { PciAddress } from "./sysfs.js";
import {
  deviceInfo,
  encodeIrqSet,
  irqInfo,
  REGION_INFO_SIZE,
  regionInfo,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
} from "./uapi.js";

/** The kernel's default dma_entry_limit of vfio_iommu_type1. */
const DEFAULT_DMA_ENTRY_LIMIT = 65535;
/** One pread/pwrite per this many bytes: the kernel splits further as the BAR needs. */
const MAX_TRANSFER = 1 << 24;

export class KernelDeviceBackend implements DeviceBackend {
  readonly kind = "kernel";
  readonly address: PciAddress;
  readonly group: KernelGroup;
  readonly limits: BackendLimits;
  readonly #fd: number;
  /** Region offsets (index << 40 on vfio-pci), as the kernel reported them. */
  readonly #regionOffsets = new Map<number, bigint>();
  #closed = false;
  readonly #features: KernelFeatures;

  /** Takes ownership of `fd` and one reference to `group`. */
  constructor(address: PciAddress, group: KernelGroup, fd: number) {
    this.address = address;
    this.group = group;
    this.#fd = fd;
    const info = group.container.info;
    this.limits = {
      maxDataXferSize: MAX_TRANSFER,
      maxMsgFds: 2048,
      maxDmaMaps: info.dmaAvail ?? DEFAULT_DMA_ENTRY_LIMIT,
      pgsizes: info.pgsizes,
      iovaRanges: info.iovaRanges,
    };
    this.#features = new KernelFeatures(String(address), (buf) => {
      this.#ioctl("VFIO_DEVICE_FEATURE", VFIO_DEVICE_FEATURE, buf);
    });
  }

  /** VFIO_DEVICE_FEATURE: migration v2 and DMA logging, where the device's driver has them. */
  async deviceFeature(
    feature: number,
    ops: number,
    data: FeatureData,
    replyRoom?: number,
  ): Promise<FeatureData> {
    return this.#features.feature(feature, ops, data, replyRoom);
  }

  async migDataRead(size: number): Promise<Uint8Array> {
    return this.#features.read(size);
  }

  async migDataWrite(data: Uint8Array): Promise<void> {
    this.#features.write(data);
  }

  /** The VFIO container the device's group is in: mappings go there, once. */
  get dmaTarget(): DmaTarget {
    return this.group.container;
  }

  get fd(): number {
    this.#checkOpen("fd");
    return this.#fd;
  }

  async getInfo(): Promise<DeviceInfo> {
    const buf = deviceInfo.encode();
    this.#ioctl("VFIO_DEVICE_GET_INFO", VFIO_DEVICE_GET_INFO, buf);
    return deviceInfo.decode(buf);
  }

  async getRegionInfo(index: number): Promise<RegionInfo> {
    let buf = regionInfo.encode(index);
    this.#ioctl("VFIO_DEVICE_GET_REGION_INFO", VFIO_DEVICE_GET_REGION_INFO, buf);
    const want = regionInfo.argsz(buf);
    if (want > REGION_INFO_SIZE) {
      // The capability chain did not fit: ask again with the room the kernel wants.
      if (want > 1 << 16) {
        throw new VfioError("EPROTO", `${regionName(index)} info wants ${want} bytes`);
      }
      buf = regionInfo.encode(index, want);
      this.#ioctl("VFIO_DEVICE_GET_REGION_INFO", VFIO_DEVICE_GET_REGION_INFO, buf);
    }
    const mappable =
      (new DataView(buf.buffer).getUint32(4, true) & VFIO_REGION_INFO_FLAG_MMAP) !== 0;
    const fd = mappable ? dupFd(this.fd) : -1;
    try {
      const info = regionInfo.decode(buf, fd);
      this.#regionOffsets.set(index, info.offset);
      return info;
    } catch (err) {
      if (fd >= 0) closeFdQuietly(fd);
      throw err;
    }
  }

  async regionRead(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    const base = await this.#regionOffset(index);
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const n = Math.min(MAX_TRANSFER, length - done);
      const got = pread(this.fd, out.subarray(done, done + n), base + offset + BigInt(done));
      if (got <= 0) throw shortAccess("read", index, offset + BigInt(done));
      done += got;
    }
    return out;
  }

  async regionWrite(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    this.#write(index, offset, data, await this.#regionOffset(index));
  }

  /**
   * A pwrite is complete when it returns, so a "posted" write is simply a write:
   * nothing is queued, and ordering with later accesses is the kernel's. DeviceHandle
   * reads the region's info before any access, so its offset is known here.
   */
  regionWritePosted(index: number, offset: bigint, data: Uint8Array): void {
    const base = this.#regionOffsets.get(index);
    if (base === undefined) {
      throw new VfioError("EINVAL", `${regionName(index)}: region info not read yet`);
    }
    this.#write(index, offset, data, base);
  }

  #write(index: number, offset: bigint, data: Uint8Array, base: bigint): void {
    for (let done = 0; done < data.byteLength; ) {
      const n = Math.min(MAX_TRANSFER, data.byteLength - done);
      const put = pwrite(this.fd, data.subarray(done, done + n), base + offset + BigInt(done));
      if (put <= 0) throw shortAccess("write", index, offset + BigInt(done));
      done += put;
    }
  }

  async getIrqInfo(index: number): Promise<IrqInfo> {
    const buf = irqInfo.encode(index);
    this.#ioctl("VFIO_DEVICE_GET_IRQ_INFO", VFIO_DEVICE_GET_IRQ_INFO, buf);
    return irqInfo.decode(buf);
  }

  async setIrqs(set: IrqSet): Promise<void> {
    this.#ioctl("VFIO_DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS, encodeIrqSet(set));
  }

  async reset(): Promise<void> {
    this.#ioctl("VFIO_DEVICE_RESET", VFIO_DEVICE_RESET);
  }

  dmaMap(req: DmaMapRequest): Promise<void> {
    return this.group.container.dmaMap(req);
  }

  dmaUnmap(iova: bigint, size: bigint): Promise<void> {
    return this.group.container.dmaUnmap(iova, size);
  }

  /** The device does real DMA through the IOMMU; nothing comes to us as requests. */
  setDmaHandler(_handler: DmaRequestHandler | null): void {}

  /** A kernel device does not disconnect under us (hot-unplug would come as REQ). */
  onDisconnect(_cb: ((err: Error) => void) | null): void {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#features.close();
    closeFdQuietly(this.#fd);
    this.group.release();
  }

  async #regionOffset(index: number): Promise<bigint> {
    const known = this.#regionOffsets.get(index);
    if (known !== undefined) return known;
    const info = await this.getRegionInfo(index);
    if (info.fd >= 0) closeFdQuietly(info.fd);
    return info.offset;
  }

  /** An ioctl on the device fd whose failure names the device and the call. */
  #ioctl(name: string, request: number, arg?: Uint8Array): number {
    try {
      return ioctl(this.fd, request, arg);
    } catch (err) {
      if (err instanceof SysError) {
        throw err.withMessage(
          `${this.address}: ${name} failed: ${err.message.replace(/^ioctl: /, "")}`,
        );
      }
      throw err;
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new VfioError("EBADF", `${this.address}: ${what} after close`);
  }
}

function shortAccess(op: string, index: number, offset: bigint): VfioError {
  return new VfioError(
    "EIO",
    `${regionName(index)} ${op} at 0x${offset.toString(16)} reached the end of the region`,
  );
}
