/** A user-level NVMe driver over the driver SDK (DeviceHandle, Container, IrqVector). */
export * as nvmeCommands from "./commands.js";
export { CompletionIrqs, type NvmeIrqMode } from "./completion-irqs.js";
export { type CommandData, NvmeController, type NvmeControllerOptions } from "./controller.js";
export { type Completion, CompletionRing, decodeCqe } from "./cqe.js";
export { DoorbellGate, type DoorbellWrite } from "./doorbell-gate.js";
export {
  NvmeDriver,
  type NvmeDriverOptions,
  type NvmeIdentity,
  type NvmeNamespace,
} from "./driver.js";
export {
  decodeIdentifyController,
  decodeIdentifyNamespace,
  decodeNamespaceList,
  type IdentifyController,
  type IdentifyNamespace,
  type LbaFormat,
} from "./identify.js";
export { decodeSmartLog, type SmartLog } from "./log-pages.js";
export { buildPrps, dataPages, listPagesNeeded, walkPrps } from "./prp.js";
export { QueuePair } from "./queue-pair.js";
export * as nvmeRegs from "./regs.js";
export { decodeSqe, encodeSqe, type NvmeCommand } from "./sqe.js";
export { decodeStatus, NvmeError, type NvmeStatus, statusName } from "./status.js";
