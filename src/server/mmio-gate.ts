import { VfioError } from "../errors.js";
import { PCI_COMMAND_IO, PCI_COMMAND_MEMORY } from "../pci/index.js";

/**
 * Which decode-enable bit guards an access: memory BARs and the ROM follow
 * PCI_COMMAND_MEMORY, I/O BARs PCI_COMMAND_IO; config space, device-specific regions
 * and the emulated MSI-X table/PBA are never blocked.
 */
export type DecodeSpace = "memory" | "io" | "always";

/** What decides whether a BAR access gets through. */
export interface DecodeState {
  readonly command: number;
  /** PMCSR says D3hot: a function there answers config cycles only. */
  readonly d3hot: boolean;
}

/**
 * The MMIO gate of seeds 000-002: while the decode bit for `space` is clear (or the
 * function sleeps in D3hot, as vfio-pci also checks) the access fails and the device
 * never sees it. Real hardware would master-abort, and some platforms turn that into
 * a fatal error; vfio-pci reports EIO synchronously instead, and so do we.
 */
export function decodeEnabled(state: DecodeState, space: DecodeSpace): boolean {
  if (space === "always") return true;
  if (state.d3hot) return false;
  const bit = space === "memory" ? PCI_COMMAND_MEMORY : PCI_COMMAND_IO;
  return (state.command & bit) !== 0;
}

/** Throws EIO when `space` is not decoded in `state`. */
export function checkDecode(state: DecodeState, space: DecodeSpace, what: string): void {
  if (decodeEnabled(state, space)) return;
  const why = state.d3hot
    ? "the function is in D3hot"
    : `${space === "memory" ? "PCI_COMMAND_MEMORY" : "PCI_COMMAND_IO"} is clear in the command register`;
  throw new VfioError("EIO", `${what}: ${why}, access blocked`);
}
