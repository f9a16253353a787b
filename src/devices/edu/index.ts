/** QEMU's edu educational device. */
export { EduDevice, type EduOptions } from "./edu.js";
export { factorial32 } from "./factorial.js";
export * from "./regs.js";
