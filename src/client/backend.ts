/**
 * The backend-neutral device interface of the driver side. It is shaped after the
 * kernel's VFIO device fd (VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO,
 * pread/pwrite at region offsets, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS,
 * VFIO_DEVICE_RESET) plus the container's VFIO_IOMMU_MAP_DMA/UNMAP_DMA, so the same
 * DeviceHandle runs over a vfio-user socket, an in-process loopback device, or (later)
 * /dev/vfio. Backends move requests; policy (MMIO blocking, IRQ bookkeeping, IOMMU
 * rules) lives above them in DeviceHandle and Container.
 */

/** VFIO_DEVICE_GET_INFO. */
export interface DeviceInfo {
  /** VFIO_DEVICE_FLAGS_* (RESET = 1, PCI = 2). */
  readonly flags: number;
  readonly numRegions: number;
  readonly numIrqs: number;
}

/** One mmappable area of a region, relative to the region's start. */
export interface MmapArea {
  readonly offset: bigint;
  readonly size: bigint;
}

/** Region capabilities are the protocol's decoded struct vfio_info_cap_header chain. */
export type { RegionCap } from "../protocol/index.js";

import type { IovaRange } from "../iommu/index.js";
import type { FeatureData, RegionCap } from "../protocol/index.js";

/** VFIO_DEVICE_GET_REGION_INFO, decoded and checked. */
export interface RegionInfo {
  readonly index: number;
  /** VFIO_REGION_INFO_FLAG_* (READ 1, WRITE 2, MMAP 4, CAPS 8). */
  readonly flags: number;
  readonly size: bigint;
  /** Base offset for mmap() of `fd` (and of every sparse area). */
  readonly offset: bigint;
  /**
   * The mmappable parts: the sparse-mmap areas when the region has that capability,
   * the whole region when it is mappable without it, else empty.
   */
  readonly mmapAreas: readonly MmapArea[];
  /** Region capabilities other than sparse mmap (e.g. VFIO_REGION_INFO_CAP_TYPE). */
  readonly caps: readonly RegionCap[];
  /**
   * The fd to mmap, owned by whoever received this info (close it when done), or -1
   * when the region is not mappable.
   */
  readonly fd: number;
}

/** VFIO_DEVICE_GET_IRQ_INFO. */
export interface IrqInfo {
  readonly index: number;
  /** VFIO_IRQ_INFO_* (EVENTFD 1, MASKABLE 2, AUTOMASKED 4, NORESIZE 8). */
  readonly flags: number;
  readonly count: number;
}

/** VFIO_DEVICE_SET_IRQS. Exactly one DATA_* and one ACTION_* flag. */
export interface IrqSet {
  readonly flags: number;
  readonly index: number;
  readonly start: number;
  readonly count: number;
  /** DATA_EVENTFD: one fd per sub-index (caller keeps ownership); empty de-assigns. */
  readonly fds?: readonly number[];
  /** DATA_BOOL: one byte per sub-index. */
  readonly bools?: Uint8Array;
}

/** One VFIO_IOMMU_MAP_DMA / VFIO_USER_DMA_MAP. */
export interface DmaMapRequest {
  readonly iova: bigint;
  readonly size: bigint;
  readonly read: boolean;
  readonly write: boolean;
  /**
   * An fd the device side can mmap (caller keeps ownership), or -1: the device then
   * reaches the memory through DmaRequestHandler (VFIO_USER_DMA_READ/WRITE).
   */
  readonly fd: number;
  /** Offset of the window inside `fd` (0 when there is no fd). */
  readonly fdOffset: bigint;
  /**
   * The driver's own view of the window's memory. The kernel backend maps its virtual
   * address (VFIO_IOMMU_MAP_DMA pins it); socket backends use `fd` instead.
   */
  readonly memory?: Uint8Array;
}

/**
 * What DMA mappings are given to. A socket backend is its own target (each device
 * side keeps its own table); kernel devices in one VFIO container share theirs, so a
 * Container maps each window once per target, not once per device.
 */
export interface DmaTarget {
  /**
   * Maps one DMA window (IOVA, size, permissions, optional fd) into the device side's IOMMU table.
   */
  dmaMap(req: DmaMapRequest): Promise<void>;
  /** Removes the window at exactly [iova, iova + size). */
  dmaUnmap(iova: bigint, size: bigint): Promise<void>;
}

/**
 * Serves the device's accesses to driver memory that has no fd (vfio-user
 * DMA_READ/DMA_WRITE). Implemented by the Container; throwing a VfioError sends its
 * errno back to the device (EFAULT for an IOMMU fault).
 */
export interface DmaRequestHandler {
  /**
   * Copies `length` bytes of driver memory at `iova` for the device; throws EFAULT outside a
   * readable window.
   */
  dmaRead(iova: bigint, length: number): Uint8Array;
  /**
   * Copies the device's `data` into driver memory at `iova`; throws EFAULT outside a writable
   * window.
   */
  dmaWrite(iova: bigint, data: Uint8Array): void;
}

/** What the transport under a backend allows per request. */
export interface BackendLimits {
  /** Largest data payload of one region read/write (the server's max_data_xfer_size). */
  readonly maxDataXferSize: number;
  /** Most fds one request may carry (the server's max_msg_fds). */
  readonly maxMsgFds: number;
  /** Most DMA mappings the device side keeps (max_dma_maps). */
  readonly maxDmaMaps: number;
  /** IOMMU page sizes the device side supports, OR'ed (pgsizes). */
  readonly pgsizes: bigint;
  /**
   * IOVA ranges the device's IOMMU can map (inclusive ends), when it reports them
   * (the kernel's VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE); absent means all of them.
   */
  readonly iovaRanges?: readonly IovaRange[];
}

/**
 * What a DeviceHandle runs over: the VFIO device operations, implemented by a vfio-user
 * socket, the in-process loopback, or the kernel's device fd.
 */
export interface DeviceBackend {
  /** "vfio-user", "loopback", "kernel", ... for messages. */
  readonly kind: string;
  readonly limits: BackendLimits;
  /** VFIO_DEVICE_GET_INFO: flags and the number of regions and IRQ indexes. */
  getInfo(): Promise<DeviceInfo>;
  /** VFIO_DEVICE_GET_REGION_INFO of region `index`: size, flags, mmap areas and capabilities. */
  getRegionInfo(index: number): Promise<RegionInfo>;
  /** Reads `length` bytes; the backend splits it into transfers it can carry. */
  regionRead(index: number, offset: bigint, length: number): Promise<Uint8Array>;
  /** Writes `data` at `offset` of region `index` and waits for the device to take it. */
  regionWrite(index: number, offset: bigint, data: Uint8Array): Promise<void>;
  /**
   * Optional posted write: sent without waiting for (or getting) a reply, in order
   * with every other request; throws only if it cannot be sent. Backends without it get
   * regionWrite instead.
   */
  regionWritePosted?(index: number, offset: bigint, data: Uint8Array): void;
  /** VFIO_DEVICE_GET_IRQ_INFO of IRQ index `index`: vector count and flags. */
  getIrqInfo(index: number): Promise<IrqInfo>;
  /** VFIO_DEVICE_SET_IRQS: enable, disable, mask, unmask or trigger vectors of one index. */
  setIrqs(set: IrqSet): Promise<void>;
  /** VFIO_DEVICE_RESET: config space back to defaults, interrupts torn down. */
  reset(): Promise<void>;
  /** Maps one DMA window for this device (a Container calls it, once per DmaTarget). */
  dmaMap(req: DmaMapRequest): Promise<void>;
  /** Removes the DMA window at exactly [iova, iova + size). */
  dmaUnmap(iova: bigint, size: bigint): Promise<void>;
  /**
   * Where DMA mappings go when several devices share one (kernel devices in one VFIO
   * container); absent means the backend itself.
   */
  readonly dmaTarget?: DmaTarget;
  /** Where DMA_READ/DMA_WRITE from the device go; null refuses them (EFAULT). */
  setDmaHandler(handler: DmaRequestHandler | null): void;
  /**
   * VFIO_DEVICE_FEATURE: GET/SET/PROBE of feature `feature` (ops are the
   * VFIO_DEVICE_FEATURE_GET/SET/PROBE bits). `replyRoom` is the data size a GET
   * expects back. Absent on a backend that has no device features.
   */
  deviceFeature?(
    feature: number,
    ops: number,
    data: FeatureData,
    replyRoom?: number,
  ): Promise<FeatureData>;
  /** Migration data out of a saving device: fewer bytes than asked means drained. */
  migDataRead?(size: number): Promise<Uint8Array>;
  /** Migration data into a resuming device. */
  migDataWrite?(data: Uint8Array): Promise<void>;
  /** DMA_UNMAP with GET_DIRTY_BITMAP: unmaps, and returns the window's dirty bitmap. */
  dmaUnmapDirty?(iova: bigint, size: bigint, pageSize: bigint): Promise<Uint8Array>;
  /** Called once when the device side goes away unexpectedly. */
  onDisconnect(cb: ((err: Error) => void) | null): void;
  /** Orderly shutdown; pending requests fail. Idempotent. */
  close(): Promise<void>;
}
