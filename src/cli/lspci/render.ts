/**
 * Renders one device's config space the way `lspci` does (-v, -vv, -x, -xxx,
 * -xxxx), from the raw bytes plus the BAR and ROM sizes that config space alone
 * cannot carry (a vfio-user client gets them from region info). Pure: bytes in,
 * text out.
 */
import {
  type DecodedConfigSpace,
  type DecodeOptions,
  decodeConfigSpace,
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS_MASK,
  PCI_STD_NUM_BARS,
} from "../../pci/index.js";
import { capabilityLines } from "./caps.js";
import { extCapabilityLines } from "./ext-caps.js";
import { u32 } from "./format.js";
import {
  barLine,
  bistLine,
  controlStatusLines,
  flagsLine,
  interruptLine,
  romLine,
  subsystemLine,
  terseLine,
} from "./header.js";
import { hexDump, hexDumpLength } from "./hexdump.js";
import type { NameStyle } from "./names.js";

export interface LspciDevice {
  /** Config space as read from the device: 64, 256 or 4096 bytes. */
  readonly config: Uint8Array;
  /**
   * Size of each BAR by BAR number (region info sizes). A 64-bit BAR's size sits at
   * its lower index; undefined or 0 means absent or unknown.
   */
  readonly barSizes?: readonly (bigint | number | undefined)[];
  readonly romSize?: bigint | number;
  /** What lspci prints as the bus address, with its domain: default "0000:00:00.0". */
  readonly slot?: string;
  /**
   * The IRQ the device is routed to, where the source knows one (sysfs, the kernel's
   * VFIO). Default: the Interrupt Line register, as pciutils does without a routing.
   */
  readonly irq?: number;
  /** The -k lines: who drives the device (for vfio-user, the serving process). */
  readonly driverLines?: readonly string[];
  /** The host IOMMU group, for a device on this host (the kernel's VFIO). */
  readonly iommuGroup?: number;
}

export interface LspciOptions {
  /** 0 terse, 1 = -v, 2 or more = -vv. */
  readonly verbose?: number;
  /** Number of -x given: 1-2 show 64 bytes, 3 show 256, 4 show 4096. */
  readonly hex?: number;
  /** Number of -n given: 0 names, 1 numbers (-n), 2 both (-nn). */
  readonly numeric?: number;
  /** -D: always print the domain (lspci prints it anyway when it is not 0000). */
  readonly domain?: boolean;
  /** -k: print the driver lines. */
  readonly kernel?: boolean;
}

/** "0000:00:04.0" as lspci prints it: without the domain unless -D or the domain is not 0. */
export function slotText(slot: string, domain: boolean): string {
  const full = /^[0-9a-f]{4}:/i.test(slot) ? slot : `0000:${slot}`;
  return domain || !full.startsWith("0000:") ? full : full.slice(5);
}

const U32_MASK = (1n << 32n) - 1n;

function toBig(v: bigint | number | undefined): bigint {
  if (v === undefined) return 0n;
  return typeof v === "bigint" ? v : Number.isFinite(v) && v > 0 ? BigInt(Math.trunc(v)) : 0n;
}

/**
 * Turns sizes into the values a BAR would read back after writing all-ones, which
 * is what the pci decoder sizes BARs from. The type bits come from the register.
 */
export function sizesToMasks(config: Uint8Array, dev: LspciDevice): DecodeOptions {
  const opts: { barMasks?: number[]; romMask?: number } = {};
  if (dev.barSizes !== undefined) opts.barMasks = barMasks(config, dev.barSizes);
  const romSize = toBig(dev.romSize);
  if (romSize > 0n) {
    const rom = u32(config, PCI_ROM_ADDRESS);
    opts.romMask = ((Number(~(romSize - 1n) & U32_MASK) & PCI_ROM_ADDRESS_MASK) | (rom & 1)) >>> 0;
  }
  return opts;
}

function barMasks(config: Uint8Array, sizes: readonly (bigint | number | undefined)[]): number[] {
  const barMasks: number[] = new Array(PCI_STD_NUM_BARS).fill(0);
  for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
    const size = toBig(sizes[i]);
    const raw = u32(config, PCI_BASE_ADDRESS_0 + 4 * i);
    if (size === 0n) continue;
    const mask = ~(size - 1n) & ((1n << 64n) - 1n);
    if (raw & PCI_BASE_ADDRESS_SPACE_IO) {
      barMasks[i] =
        (Number(mask & U32_MASK) & PCI_BASE_ADDRESS_IO_MASK) | PCI_BASE_ADDRESS_SPACE_IO;
      continue;
    }
    barMasks[i] = (Number(mask & U32_MASK) & ~0xf) | (raw & 0xf);
    const is64 = (raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK) === PCI_BASE_ADDRESS_MEM_TYPE_64;
    if (is64 && i + 1 < PCI_STD_NUM_BARS) {
      barMasks[i + 1] = Number(mask >> 32n);
      i++;
    }
  }
  return barMasks.map((m) => m >>> 0);
}

interface Shown {
  readonly slot: string;
  readonly verbose: number;
  readonly style: NameStyle;
  readonly irq: number;
  readonly iommuGroup: number | undefined;
}

function verboseLines(b: Uint8Array, d: DecodedConfigSpace, s: Shown): string[] {
  const v = s.verbose;
  const out = [terseLine(d, s.slot, v, s.style)];
  const sub = subsystemLine(d, s.style);
  if (sub !== undefined) out.push(sub);
  if (v >= 2) out.push(...controlStatusLines(d));
  else out.push(flagsLine(d, s.irq, s.iommuGroup)); // lspci -v folds these into Flags
  const irq = v >= 2 ? interruptLine(d, s.irq) : undefined;
  if (irq !== undefined) out.push(irq);
  if (v >= 2 && s.iommuGroup !== undefined) out.push(`\tIOMMU group: ${s.iommuGroup}`);
  const bist = bistLine(d);
  if (bist !== undefined) out.push(bist);
  if (d.header.headerType !== 0) {
    out.push(`\t!!! Header type ${d.header.headerType} is not decoded`);
    return out;
  }
  const cmd = d.header.command;
  for (const bar of d.bars) out.push(barLine(bar, cmd, v));
  if (d.rom !== undefined) out.push(romLine(d.rom, cmd));
  for (const c of d.capabilities) out.push(...capabilityLines(b, c, v));
  for (const p of d.problems) out.push(`\t!!! ${p}`);
  for (const c of d.extendedCapabilities) out.push(...extCapabilityLines(b, c, v));
  return out;
}

/** The lspci text for one device, ending with a newline (and a blank line in -v/-x modes). */
export function renderLspci(dev: LspciDevice, options: LspciOptions = {}): string {
  const verbose = Math.max(0, Math.trunc(options.verbose ?? 0));
  const hexLevel = Math.max(0, Math.trunc(options.hex ?? 0));
  const config = dev.config;
  const d = decodeConfigSpace(config, sizesToMasks(config, dev));
  // Capability renderers read fixed offsets; a zero-padded copy keeps them in bounds.
  const padded = new Uint8Array(PCI_CFG_SPACE_EXP_SIZE + 64);
  padded.set(config.subarray(0, PCI_CFG_SPACE_EXP_SIZE));
  const shown: Shown = {
    slot: slotText(dev.slot ?? "0000:00:00.0", options.domain ?? false),
    verbose,
    style: Math.min(2, Math.max(0, Math.trunc(options.numeric ?? 0))) as NameStyle,
    irq: dev.irq ?? d.header.interruptLine,
    iommuGroup: dev.iommuGroup,
  };
  const lines =
    verbose > 0 ? verboseLines(padded, d, shown) : [terseLine(d, shown.slot, 0, shown.style)];
  // lspci prints the driver lines after the capabilities (-v, which implies them) or after
  // the summary line (-k alone).
  if (options.kernel || verbose > 0) lines.push(...(dev.driverLines ?? []));
  if (hexLevel > 0) lines.push(...hexDump(config, hexDumpLength(hexLevel, config.length)));
  if (verbose > 0 || hexLevel > 0) lines.push("");
  return `${lines.join("\n")}\n`;
}
