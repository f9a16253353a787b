export { type BackingStore, FileBacking, MemoryBacking, parseSize } from "./backing.js";
export { NvmeController, type NvmeOptions } from "./controller.js";
export { prpSegments } from "./prp.js";
export { Status as NvmeStatus } from "./status.js";
