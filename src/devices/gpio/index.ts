/** ACCES PCI-IDIO-16 digital I/O card. */
export { type Idio16Events, type Idio16Options, PciIdio16 } from "./idio16.js";
export * from "./regs.js";
