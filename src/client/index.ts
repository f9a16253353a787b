/**
 * The driver side: a VFIO-like user API for user-level drivers. Devices are opened over
 * a DeviceBackend (a vfio-user socket, an in-process loopback, or the kernel's /dev/vfio) as
 * DeviceHandles; DMA goes through Containers (IOMMU domains with type1v2 rules, pinned
 * memory accounting and PASIDs charged to an IommuOwner).
 *
 * @module
 */
export type {
  BackendLimits,
  DeviceBackend,
  DeviceInfo,
  DmaMapRequest,
  DmaRequestHandler,
  DmaTarget,
  IrqInfo,
  IrqSet,
  MmapArea,
  RegionCap,
  RegionInfo,
} from "./backend.js";
export { ConfigSpace, type RegionIo } from "./config-space.js";
export {
  Container,
  type ContainerDevice,
  type ContainerOptions,
  containerOfDevice,
} from "./container.js";
export {
  DeviceHandle,
  type DeviceHandleEvents,
  type DeviceHandleOptions,
} from "./device-handle.js";
export { DeviceIrqs, type EnableIrqOptions } from "./device-irqs.js";
export {
  DeviceMigration,
  type MigrationFeatures,
  MigrationState,
} from "./device-migration.js";
export { DmaBuffer, DmaMapping, type DmaPermsSpec } from "./dma-mapping.js";
export {
  MAX_CONFIG_SIZE,
  MAX_IRQ_INDEXES,
  MAX_MMAP_AREAS,
  MAX_REGION_SIZE,
  MAX_REGIONS,
  maxVectors,
} from "./info-checks.js";
export {
  defaultMemlockLimit,
  IommuOwner,
  type IommuOwnerOptions,
  processPasidAllocator,
} from "./iommu-owner.js";
export { lowestFreeIova } from "./iova-allocator.js";
export { type IrqControl, type IrqEvent, IrqVector, type IrqWaitOptions } from "./irq-vector.js";
export * from "./kernel/index.js";
export { type LoopbackOptions, openLoopback } from "./loopback.js";
export { MappedRegion } from "./mapped-region.js";
export { memorySocketPair } from "./memory-socket.js";
export { type MigrateOptions, type MigrationReport, migrateDevice } from "./migrate.js";
export { MmioWindow } from "./mmio-window.js";
export * from "./vfio-abi.js";
export { VfioUserBackend } from "./vfio-user-backend.js";
export { VfioUserClient, type VfioUserClientOptions } from "./vfio-user-client.js";
