/** Config space is little-endian: the shared helpers (src/le.ts), re-exported for pci/. */
export { isPowerOfTwo } from "../bits.js";
export { hex } from "../hex.js";
export { getLE, getU16, getU32, getU64, setU16, setU32, setU64, toLE } from "../le.js";
