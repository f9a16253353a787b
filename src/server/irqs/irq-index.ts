/** Which interrupt type a client has enabled (vfio-pci allows one at a time). */
export type IrqMode = "none" | "intx" | "msi" | "msix";

export function irqIndexName(index: number): string {
  return ["INTx", "MSI", "MSI-X", "ERR", "REQ"][index] ?? `IRQ index ${index}`;
}
