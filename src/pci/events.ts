/**
 * What a client write changed, as the server needs to act on it. write()
 * returns these in a list (no listener registry: the caller that performs the
 * write is the one that must react, synchronously, before replying).
 *
 * Events compare state before and after one write() call: a dword write to a
 * BAR gives one "bar" event, four byte writes give up to four (each with the
 * address as it stood after that byte). Writes that change nothing give none.
 */
import {
  PCI_BASE_ADDRESS_0,
  PCI_COMMAND,
  PCI_MSIX_FLAGS,
  PCI_PM_CTRL,
  PCI_ROM_ADDRESS,
} from "./regs.js";
import {
  type BarState,
  type MsiState,
  type MsixState,
  msiStateEqual,
  type PowerState,
  type RomState,
} from "./state.js";
import type { CapabilityInfo } from "./walk.js";

/** What a client's config write changed that the server must act on, told apart by `kind`. */
export type ConfigEvent =
  /** COMMAND changed: MEMORY/IO enable (MMIO blocking), MASTER, INTX_DISABLE. */
  | { readonly kind: "command"; readonly previous: number; readonly value: number }
  /** A BAR's base address changed (64-bit BARs: one event for both halves, `index` is the lower). */
  | {
      readonly kind: "bar";
      readonly index: number;
      readonly previous: bigint;
      readonly address: bigint;
    }
  /** ROM base address or enable changed. */
  | { readonly kind: "rom"; readonly previous: RomState; readonly state: RomState }
  /** MSI enable, vector count, address, data or mask bits changed. */
  | { readonly kind: "msi"; readonly previous: MsiState; readonly state: MsiState }
  /** MSI-X enable or function mask changed. */
  | { readonly kind: "msix"; readonly previous: MsixState; readonly state: MsixState }
  /** PMCSR PowerState changed (D0 <-> D3hot); `noSoftReset` says whether D3hot->D0 keeps state. */
  | {
      readonly kind: "power";
      readonly previous: PowerState;
      readonly state: PowerState;
      readonly noSoftReset: boolean;
    }
  /** Initiate Function Level Reset was written: the server should reset the function. */
  | { readonly kind: "flr" };

/** What the watchers read; ConfigSpace implements it. */
export interface StateSource {
  readonly command: number;
  readonly powerState: PowerState;
  readonly noSoftReset: boolean;
  bar(index: number): BarState | undefined;
  rom(): RomState | undefined;
  msi(): MsiState | undefined;
  msix(): MsixState | undefined;
}

/** Watches one register range: begin() snapshots, the returned function diffs. */
export interface Watcher {
  readonly start: number;
  readonly end: number;
  begin(): () => ConfigEvent | undefined;
}

function watcher<T>(
  start: number,
  end: number,
  snap: () => T,
  same: (a: T, b: T) => boolean,
  event: (a: T, b: T) => ConfigEvent,
): Watcher {
  return {
    start,
    end,
    begin() {
      const before = snap();
      return () => {
        const after = snap();
        return same(before, after) ? undefined : event(before, after);
      };
    },
  };
}

export function buildWatchers(
  src: StateSource,
  barIndices: readonly number[],
  hasRom: boolean,
  caps: {
    readonly msi: CapabilityInfo | undefined;
    readonly msix: CapabilityInfo | undefined;
    readonly pm: CapabilityInfo | undefined;
  },
): Watcher[] {
  const out: Watcher[] = [
    watcher(
      PCI_COMMAND,
      PCI_COMMAND + 2,
      () => src.command,
      (a, b) => a === b,
      (previous, value) => ({ kind: "command", previous, value }),
    ),
  ];
  for (const index of barIndices) {
    const bar = src.bar(index)!;
    const start = PCI_BASE_ADDRESS_0 + 4 * index;
    out.push(
      watcher(
        start,
        start + (bar.kind === "mem64" ? 8 : 4),
        () => src.bar(index)!.address,
        (a, b) => a === b,
        (previous, address) => ({ kind: "bar", index, previous, address }),
      ),
    );
  }
  if (hasRom) {
    out.push(
      watcher(
        PCI_ROM_ADDRESS,
        PCI_ROM_ADDRESS + 4,
        () => src.rom()!,
        (a, b) => a.address === b.address && a.enabled === b.enabled,
        (previous, state) => ({ kind: "rom", previous, state }),
      ),
    );
  }
  const { msi, msix, pm } = caps;
  if (msi) {
    out.push(
      watcher(
        msi.offset,
        msi.offset + msi.length,
        () => src.msi()!,
        msiStateEqual,
        (previous, state) => ({ kind: "msi", previous, state }),
      ),
    );
  }
  if (msix) {
    out.push(
      watcher(
        msix.offset + PCI_MSIX_FLAGS,
        msix.offset + PCI_MSIX_FLAGS + 2,
        () => src.msix()!,
        (a, b) => a.enabled === b.enabled && a.functionMask === b.functionMask,
        (previous, state) => ({ kind: "msix", previous, state }),
      ),
    );
  }
  if (pm) {
    out.push(
      watcher(
        pm.offset + PCI_PM_CTRL,
        pm.offset + PCI_PM_CTRL + 1,
        () => src.powerState,
        (a, b) => a === b,
        (previous, state) => ({ kind: "power", previous, state, noSoftReset: src.noSoftReset }),
      ),
    );
  }
  return out;
}
