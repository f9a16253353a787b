/** A user-level driver for QEMU's edu device, written against the driver API only. */
export { type DmaRoundTrip, dmaRoundTrip, type EduDmaPath, freeIova } from "./dma-roundtrip.js";
export { EduDriver, type EduDriverOptions, type EduIdentity } from "./driver.js";
export { EduInterrupts, type EduIrqCounts, type EduIrqMode } from "./interrupts.js";
export * as eduRegs from "./regs.js";
