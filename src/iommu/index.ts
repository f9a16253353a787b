/**
 * The IOMMU as data structures, with no I/O: DMA windows keyed by IOVA in an interval map,
 * the type1v2 domain rules, pinned-memory accounting and the PASID allocator.
 *
 * @module
 */
export {
  type DmaAccess,
  type DmaPerms,
  type DmaSegment,
  DmaWindow,
  untilIdle,
  whenAllIdle,
} from "./dma-window.js";
export { type Interval, IntervalMap, type IntervalMapOptions } from "./interval-map.js";
export {
  DEFAULT_MAX_MAPPINGS,
  DEFAULT_PGSIZES,
  type DmaUnmapResult,
  IommuDomain,
  type IommuDomainOptions,
  type IommuFaultRecord,
} from "./iommu-domain.js";
export {
  type DmaAccessKind,
  EDQUOT,
  IommuFaultError,
  type IommuFaultReason,
} from "./iommu-errors.js";
export {
  FULL_IOVA_RANGE,
  type IovaRange,
  intersectIovaRanges,
  iovaRangesCover,
  normalizeIovaRanges,
  U64_MAX,
} from "./iova-ranges.js";
export {
  MemlockAccount,
  type MemlockAccountOptions,
  type MemlockLimit,
} from "./memlock-account.js";
export {
  DEFAULT_MAX_PASID,
  DEFAULT_PASID_QUOTA,
  PasidAllocator,
  type PasidAllocatorOptions,
  type PasidOwner,
} from "./pasid.js";
