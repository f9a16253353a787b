/** lspci-style rendering of a device's config space (pure: bytes in, text out). */
export { hexDump, hexDumpLength } from "./hexdump.js";
export { className, deviceName, progIfName, vendorName } from "./names.js";
export { type LspciDevice, type LspciOptions, renderLspci, sizesToMasks } from "./render.js";
