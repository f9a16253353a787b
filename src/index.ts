/**
 * vfio-ts: the VFIO system in TypeScript.
 *
 * The two SDKs are exported flat: the device side (createDevice, VfioUserServer) and
 * the driver side (VfioUserClient, DeviceHandle, Container, openLoopback). Each layer
 * below them is exported as a namespace, so names never collide across layers
 * (config space exists as a model in `pci` and as a driver helper in the client).
 *
 * @module
 */
export * from "./client/index.js";
export * as client from "./client/index.js";
export * as devices from "./devices/index.js";
export { EduDevice, PciIdio16 } from "./devices/index.js";
export {
  EduDriver,
  type EduDriverOptions,
  type EduIdentity,
  EduInterrupts,
  type EduIrqCounts,
  type EduIrqMode,
} from "./drivers/edu/index.js";
export {
  type IdentifyController,
  type IdentifyNamespace,
  type LbaFormat,
  NvmeDriver,
  type NvmeDriverOptions,
  NvmeError,
  type NvmeIdentity,
  type NvmeIrqMode,
  type NvmeNamespace,
  type NvmeStatus,
  type SmartLog,
} from "./drivers/nvme/index.js";
export { Errno, type ErrnoName, errnoName, errnoOf, VfioError } from "./errors.js";
export * as iommu from "./iommu/index.js";
export * as pci from "./pci/index.js";
export * as protocol from "./protocol/index.js";
export * as server from "./server/index.js";
// The device SDK. Two of its type names are also client names; here they are prefixed.
export {
  type BarDefinition,
  BusMasterDisabledError,
  type ClientInfo,
  createDevice,
  type DeviceConfig,
  type DeviceContext,
  type DeviceDefinition,
  type DeviceDma,
  type DeviceIrqs as DeviceSideIrqs,
  type DeviceLog,
  type DeviceRegionDefinition,
  type DeviceTasks,
  type DmaAccessOptions,
  type DmaSegment,
  type DmaWindowInfo,
  debuglogLogger,
  type IrqDelivery,
  isPciDevice,
  type Logger,
  type MigrationDefinition,
  type MmapArea as DeviceMmapArea,
  PciDevice,
  type ReadResult,
  type RegionHandlers,
  type RomDefinition,
  silentLogger,
  VfioUserServer,
  type VfioUserServerEvents,
  type VfioUserServerOptions,
} from "./server/index.js";
export * as sys from "./sys/index.js";
export * as transport from "./transport/index.js";
