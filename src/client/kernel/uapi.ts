/**
 * The kernel's VFIO uAPI (include/uapi/linux/vfio.h) as numbers and byte layouts:
 * ioctl request numbers and the argument structs, encoded and decoded here so the
 * native addon only moves bytes. Every VFIO ioctl is _IO(';', 100 + n): no size is
 * encoded in the number, the structs carry their own argsz instead.
 */

import type { IovaRange } from "../../iommu/index.js";
import { decodeContext } from "../../protocol/codec.js";
import { Reader, regionInfoCodec } from "../../protocol/index.js";
import type { DeviceInfo, IrqInfo, IrqSet, RegionInfo } from "../backend.js";
import { toRegionInfo } from "../region-info-decode.js";

const VFIO_TYPE = 0x3b; // ';'
const VFIO_BASE = 100;
const io = (n: number) => (VFIO_TYPE << 8) | (VFIO_BASE + n);

export const VFIO_API_VERSION = 0;

// Container (/dev/vfio/vfio) ioctls.
export const VFIO_GET_API_VERSION = io(0);
export const VFIO_CHECK_EXTENSION = io(1);
export const VFIO_SET_IOMMU = io(2);
export const VFIO_IOMMU_GET_INFO = io(12);
export const VFIO_IOMMU_MAP_DMA = io(13);
export const VFIO_IOMMU_UNMAP_DMA = io(14);

// Group (/dev/vfio/N) ioctls.
export const VFIO_GROUP_GET_STATUS = io(3);
export const VFIO_GROUP_SET_CONTAINER = io(4);
export const VFIO_GROUP_UNSET_CONTAINER = io(5);
export const VFIO_GROUP_GET_DEVICE_FD = io(6);

// Device fd ioctls.
export const VFIO_DEVICE_GET_INFO = io(7);
export const VFIO_DEVICE_GET_REGION_INFO = io(8);
export const VFIO_DEVICE_GET_IRQ_INFO = io(9);
export const VFIO_DEVICE_SET_IRQS = io(10);
export const VFIO_DEVICE_RESET = io(11);
export const VFIO_DEVICE_FEATURE = io(17);

/** Extensions (VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU). */
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;

export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

/** A zeroed struct of `size` bytes with argsz filled in, and a view to fill the rest. */
function struct(size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, size, true);
  return { bytes, view };
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** struct vfio_group_status { argsz, flags }. */
export const groupStatus = {
  encode: () => struct(8).bytes,
  flags: (bytes: Uint8Array) => viewOf(bytes).getUint32(4, true),
};

/** VFIO_GROUP_SET_CONTAINER takes a pointer to the container fd. */
export function containerFdArg(fd: number): Uint8Array {
  const { bytes, view } = struct(4);
  view.setInt32(0, fd, true);
  return bytes;
}

/** VFIO_GROUP_GET_DEVICE_FD takes the device's name as a C string. */
export function deviceNameArg(name: string): Uint8Array {
  return new TextEncoder().encode(`${name}\0`);
}

/** struct vfio_device_info { argsz, flags, num_regions, num_irqs, cap_offset, pad }. */
export const deviceInfo = {
  encode: () => struct(24).bytes,
  decode(bytes: Uint8Array): DeviceInfo {
    const v = viewOf(bytes);
    return {
      flags: v.getUint32(4, true),
      numRegions: v.getUint32(8, true),
      numIrqs: v.getUint32(12, true),
    };
  },
};

/** struct vfio_irq_info { argsz, flags, index, count }. */
export const irqInfo = {
  encode(index: number): Uint8Array {
    const { bytes, view } = struct(16);
    view.setUint32(8, index, true);
    return bytes;
  },
  decode(bytes: Uint8Array): IrqInfo {
    const v = viewOf(bytes);
    return {
      flags: v.getUint32(4, true),
      index: v.getUint32(8, true),
      count: v.getUint32(12, true),
    };
  },
};

/**
 * struct vfio_irq_set { argsz, flags, index, start, count, data[] }: data is one s32
 * eventfd per sub-index (DATA_EVENTFD), one byte per sub-index (DATA_BOOL) or nothing.
 */
export function encodeIrqSet(set: IrqSet): Uint8Array {
  const fds = set.fds ?? [];
  const bools = set.bools ?? new Uint8Array(0);
  const dataSize = fds.length * 4 + bools.byteLength;
  const { bytes, view } = struct(20 + dataSize);
  view.setUint32(4, set.flags, true);
  view.setUint32(8, set.index, true);
  view.setUint32(12, set.start, true);
  view.setUint32(16, set.count, true);
  for (const [i, fd] of fds.entries()) view.setInt32(20 + 4 * i, fd, true);
  bytes.set(bools, 20 + fds.length * 4);
  return bytes;
}

/** The fixed part of struct vfio_region_info; capabilities follow when argsz allows. */
export const REGION_INFO_SIZE = 32;

export const regionInfo = {
  encode(index: number, argsz: number = REGION_INFO_SIZE): Uint8Array {
    const { bytes, view } = struct(argsz);
    view.setUint32(8, index, true);
    return bytes;
  },
  /** The argsz the kernel asks for (larger than ours when the caps did not fit). */
  argsz: (bytes: Uint8Array) => viewOf(bytes).getUint32(0, true),
  /**
   * The kernel's reply has the layout of vfio-user's REGION_INFO reply (the spec took
   * the struct from linux/vfio.h), so one bounds-checked decoder serves both: a
   * capability chain that loops or runs out of the buffer is an error, not a hang.
   */
  decode(bytes: Uint8Array, deviceFd: number): RegionInfo {
    const argsz = regionInfo.argsz(bytes);
    // The kernel reports the argsz it needs; the bytes it wrote are what we gave it.
    const body = argsz <= bytes.byteLength ? bytes.subarray(0, argsz) : bytes;
    const reply = regionInfoCodec.reply.read(
      new Reader(body, "VFIO_DEVICE_GET_REGION_INFO"),
      decodeContext(0),
    );
    return toRegionInfo(reply, deviceFd);
  },
};

/** struct vfio_iommu_type1_info, decoded with the capabilities we use. */
export interface IommuInfo {
  /** Supported IOMMU page sizes, OR'ed. */
  readonly pgsizes: bigint;
  /** Usable IOVA ranges, when the kernel reports them (4.19 and later). */
  readonly iovaRanges: readonly IovaRange[] | undefined;
  /** Mappings the container may still create (dma_entry_limit), when reported (5.9+). */
  readonly dmaAvail: number | undefined;
}

/** The fixed part: argsz, flags, iova_pgsizes u64, cap_offset, pad. */
export const IOMMU_INFO_SIZE = 24;

export const iommuInfo = {
  encode: (argsz: number = IOMMU_INFO_SIZE) => struct(argsz).bytes,
  argsz: (bytes: Uint8Array) => viewOf(bytes).getUint32(0, true),
  decode(bytes: Uint8Array): IommuInfo {
    const r = new Reader(bytes, "VFIO_IOMMU_GET_INFO");
    const argsz = r.u32("argsz");
    const flags = r.u32("flags");
    const pgsizes = (flags & VFIO_IOMMU_INFO_PGSIZES) !== 0 ? r.u64("iova_pgsizes") : 0n;
    r.seek(16, "cap_offset");
    const capOffset = r.u32("cap_offset");
    let iovaRanges: IovaRange[] | undefined;
    let dmaAvail: number | undefined;
    const end = Math.min(argsz, bytes.byteLength);
    let off = (flags & VFIO_IOMMU_INFO_CAPS) !== 0 ? capOffset : 0;
    let lowest = IOMMU_INFO_SIZE;
    // The same forward-only walk as region capabilities: each next must move past the
    // current header, so a looping chain ends in an error rather than a hang.
    while (off !== 0) {
      if (off < lowest || off + 8 > end)
        r.fail(`capability at ${off} is outside [${lowest}, ${end})`);
      r.seek(off, "capability");
      const id = r.u16("cap id");
      r.u16("cap version");
      const next = r.u32("cap next");
      if (id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
        const n = r.u32("nr_iovas");
        r.skip(4, "reserved");
        if (n > Math.floor((end - r.offset) / 16)) r.fail(`nr_iovas ${n} runs past the buffer`);
        iovaRanges = [];
        for (let i = 0; i < n; i++) iovaRanges.push({ start: r.u64("start"), end: r.u64("end") });
      } else if (id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
        dmaAvail = r.u32("avail");
      }
      lowest = off + 8;
      off = next;
    }
    return { pgsizes, iovaRanges, dmaAvail };
  },
};

/** struct vfio_iommu_type1_dma_map { argsz, flags, vaddr, iova, size }. */
export function encodeDmaMap(
  vaddr: bigint,
  iova: bigint,
  size: bigint,
  read: boolean,
  write: boolean,
): Uint8Array {
  const { bytes, view } = struct(32);
  view.setUint32(
    4,
    (read ? VFIO_DMA_MAP_FLAG_READ : 0) | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0),
    true,
  );
  view.setBigUint64(8, vaddr, true);
  view.setBigUint64(16, iova, true);
  view.setBigUint64(24, size, true);
  return bytes;
}

/** struct vfio_iommu_type1_dma_unmap { argsz, flags, iova, size }; size is rewritten. */
export const dmaUnmap = {
  encode(iova: bigint, size: bigint): Uint8Array {
    const { bytes, view } = struct(24);
    view.setBigUint64(8, iova, true);
    view.setBigUint64(16, size, true);
    return bytes;
  },
  unmapped: (bytes: Uint8Array) => viewOf(bytes).getBigUint64(16, true),
};
