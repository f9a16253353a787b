/**
 * PCI config space: register names, the builder, the virtualizer that serves
 * config space (region index 7) with VFIO semantics, and lspci-style decoding.
 *
 * @module
 */

export {
  barTypeBits,
  buildConfigSpace,
  msixPbaSize,
  placeCapabilities,
  validateBars,
  validateRom,
} from "./builder.js";
export { getLE, toLE } from "./bytes.js";
export { type BytePermissions, ConfigSpace } from "./config-space.js";
export * from "./decode.js";
export type * from "./decode-caps.js";
export type { ConfigEvent } from "./events.js";
export {
  ALL,
  type ByteFilter,
  compilePermissions,
  type FieldPerm,
  type PermissionMap,
  type PermTable,
  type Region,
  type TableOf,
} from "./perms.js";
export { EXTENDED_TABLES, msiCapableLog2, STANDARD_TABLES } from "./perms-caps.js";
export { barWriteMasks, COMMAND_WRITABLE, headerTable, romWriteMask } from "./perms-header.js";
export * from "./regs.js";
export type * from "./spec.js";
export type { BarState, MsiState, MsixState, PowerState, RomState } from "./state.js";
export { type CapabilityInfo, msiLength, type WalkResult, walkCapabilities } from "./walk.js";
