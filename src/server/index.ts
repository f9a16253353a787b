/**
 * The vfio-user server and the device SDK: declare a PCI device (identity, BARs,
 * capabilities, callbacks) with createDevice(), serve it with VfioUserServer.
 *
 * @module
 */
export type {
  BarDefinition,
  ClientInfo,
  DeviceConfig,
  DeviceContext,
  DeviceDefinition,
  DeviceDma,
  DeviceIrqs,
  DeviceLog,
  DeviceRegionDefinition,
  DeviceTasks,
  DmaAccessOptions,
  DmaSegment,
  DmaWindowInfo,
  MigrationDefinition,
  MmapArea,
  ReadResult,
  RegionHandle,
  RegionHandlers,
  RomDefinition,
} from "./device.js";
export { BusMasterDisabledError } from "./device-dma.js";
export type { DmaFdPolicy } from "./dma.js";
export { type IrqCapabilities, IrqController } from "./irqs/irq-controller.js";
export type { IrqDelivery } from "./irqs/notifier.js";
export { debuglogLogger, type Logger, silentLogger } from "./logger.js";
export { DirtyLog, type LoggedRange } from "./migration/dirty-log.js";
export {
  type MigArc,
  type MigState,
  migrationPath,
  migStateName,
} from "./migration/state-machine.js";
export { MsixTable, PCI_MSIX_ENTRY_SIZE } from "./msix-table.js";
export { createDevice, isPciDevice, PciDevice } from "./pci-device.js";
export { type LogRateLimit, rateLimitedLogger } from "./rate-limited-logger.js";
export { DeviceHandlerError, leValue } from "./regions/handler-call.js";
export { VfioUserServer, type VfioUserServerEvents, type VfioUserServerOptions } from "./server.js";
