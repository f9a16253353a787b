export { type BackingStore, FileBacking, MemoryBacking, parseSize } from "./backing.js";
export { NvmeController, type NvmeOptions } from "./controller.js";
export type { RegisterState as NvmeRegisterState } from "./migration-state.js";
export { prpSegments } from "./prp.js";
export { Status as NvmeStatus } from "./status.js";
