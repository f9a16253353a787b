import { PCI_COMMAND, PCI_COMMAND_MEMORY } from "../pci/regs.js";
import type { MappedRegion } from "./mapped-region.js";
import type { MmioGate } from "./mmio-window.js";
import { VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX } from "./vfio-abi.js";

/**
 * The driver side of MMIO blocking (seeds 000-002). vfio-pci zaps the user's BAR
 * mappings when the memory-enable bit is cleared or the device is reset, and faults
 * them back in on the next access once the bit is set again; here the same happens to
 * a device's MappedRegions, and the reason travels with every refused access.
 *
 * Memory BARs and the ROM (regions 0-6 of a PCI device) follow PCI_COMMAND_MEMORY;
 * every mapping, device-specific regions included, is blocked across a reset and once
 * the device is gone.
 */
export class MmioBlocking {
  readonly #pci: boolean;
  /** Why the whole device is unusable (closed, disconnected), or null. */
  readonly #deviceDown: () => string | null;
  readonly #mapped = new Map<number, MappedRegion>();
  #memoryEnabled = true;
  #resetting = 0;

  constructor(pci: boolean, deviceDown: () => string | null) {
    this.#pci = pci;
    this.#deviceDown = deviceDown;
  }

  get memoryEnabled(): boolean {
    return this.#memoryEnabled;
  }

  mapped(index: number): MappedRegion | undefined {
    return this.#mapped.get(index);
  }

  track(region: MappedRegion): void {
    this.#mapped.set(region.index, region);
  }

  untrack(index: number): void {
    this.#mapped.delete(index);
  }

  /** What the windows of region `index` ask before each access. */
  gateFor(index: number): MmioGate {
    return { blockedReason: () => this.blockedReason(index) };
  }

  /** Why an access to region `index` is blocked now, or null if it may go ahead. */
  blockedReason(index: number): string | null {
    const down = this.#deviceDown();
    if (down !== null) return down;
    if (this.#resetting > 0) return "the device is being reset";
    if (this.#pci && index <= VFIO_PCI_ROM_REGION_INDEX && !this.#memoryEnabled) {
      return "memory decoding is disabled (PCI_COMMAND_MEMORY is clear); set it to fault the mapping back in";
    }
    return null;
  }

  /** Records the memory-enable bit; clearing it zaps every BAR and ROM mapping now. */
  setMemory(on: boolean): void {
    this.#memoryEnabled = on;
    if (!on) {
      for (const [index, r] of this.#mapped) if (index <= VFIO_PCI_ROM_REGION_INDEX) r.zap();
    }
  }

  /** Records PCI_COMMAND as read from the device. */
  setCommand(command: number): void {
    this.setMemory((command & PCI_COMMAND_MEMORY) !== 0);
  }

  /** Blocks and zaps every mapping until the matching endReset(). */
  beginReset(): void {
    this.#resetting++;
    this.zapAll();
  }

  endReset(): void {
    this.#resetting--;
  }

  zapAll(): void {
    for (const r of this.#mapped.values()) r.zap();
  }

  closeAll(): void {
    for (const r of [...this.#mapped.values()]) r.close();
    this.#mapped.clear();
  }

  /**
   * The low byte of PCI_COMMAND if a write of `data` at `offset` of region `index`
   * carries it (raw config writes count as much as the typed helpers), else undefined.
   */
  commandByte(index: number, offset: bigint, data: Uint8Array): number | undefined {
    if (!this.#pci || index !== VFIO_PCI_CONFIG_REGION_INDEX) return undefined;
    const at = BigInt(PCI_COMMAND) - offset;
    if (at < 0n || at >= BigInt(data.byteLength)) return undefined;
    return data[Number(at)];
  }
}
