/** Which interrupt type a client has enabled (vfio-pci allows one at a time). */
export type IrqMode = "none" | "intx" | "msi" | "msix";

export { irqIndexName } from "../../protocol/index.js";
