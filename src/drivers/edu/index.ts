/** A user-level driver for QEMU's edu device, and a demo that runs it end to end. */
export {
  type DemoOptions,
  type DemoReport,
  demoSucceeded,
  type FactorialResult,
  formatDemoReport,
  runDemo,
  SERVE_EDU_ENTRY,
} from "./demo.js";
export { type DmaRoundTrip, dmaRoundTrip, type EduDmaPath, freeIova } from "./dma-roundtrip.js";
export { EduDriver, type EduDriverOptions, type EduIdentity } from "./driver.js";
export { EduInterrupts, type EduIrqCounts, type EduIrqMode } from "./interrupts.js";
export * as eduRegs from "./regs.js";
