/**
 * The header part of lspci's output: the one-line summary, Subsystem, the
 * Control/Status/Latency lines (-vv) or the Flags line (-v), the interrupt pin,
 * BIST, the BAR "Region" lines and the expansion ROM.
 */
import type { DecodedBar, DecodedConfigSpace, DecodedRom } from "../../pci/index.js";
import {
  PCI_COMMAND_FAST_BACK,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_INVALIDATE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_COMMAND_SPECIAL,
  PCI_COMMAND_VGA_PALETTE,
  PCI_COMMAND_WAIT,
  PCI_STATUS_66MHZ,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_DETECTED_PARITY,
  PCI_STATUS_DEVSEL_MASK,
  PCI_STATUS_FAST_BACK,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_PARITY,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_REC_TARGET_ABORT,
  PCI_STATUS_SIG_SYSTEM_ERROR,
  PCI_STATUS_SIG_TARGET_ABORT,
} from "../../pci/index.js";
import { flags, hex, sizeSuffix } from "./format.js";
import { className, deviceName, type NameStyle, progIfName } from "./names.js";

/** User-definable features (PCI 2.1, reserved since): no constant in pci/regs. */
const PCI_STATUS_UDF = 0x40;
const PCI_BIST_CAPABLE = 0x80;
const PCI_BIST_START = 0x40;
const PCI_BIST_CODE_MASK = 0x0f;

function devsel(status: number): string {
  return ["fast", "medium", "slow", "??"][(status & PCI_STATUS_DEVSEL_MASK) >> 9]!;
}

/** "00:00.0 Unclassified device [00ff]: Device 1234:11e8 (rev 10)" (+ prog-if when verbose). */
export function terseLine(
  d: DecodedConfigSpace,
  slot: string,
  verbose: number,
  style: NameStyle = 0,
): string {
  const h = d.header;
  let line = `${slot} ${className(h.classCode, style)}: ${deviceName(h.vendorId, h.deviceId, style)}`;
  if (h.revision !== 0) line += ` (rev ${hex(h.revision, 2)})`;
  if (verbose > 0) {
    const name = progIfName(h.classCode);
    if (h.progIf !== 0 || name !== undefined) {
      line += ` (prog-if ${hex(h.progIf, 2)}${name !== undefined ? ` [${name}]` : ""})`;
    }
  }
  return line;
}

export function subsystemLine(d: DecodedConfigSpace, style: NameStyle = 0): string | undefined {
  const { subsystemVendorId: sv, subsystemId: sd, headerType } = d.header;
  if (headerType !== 0 || sv === 0 || sv === 0xffff) return undefined;
  return `\tSubsystem: ${deviceName(sv, sd, style)}`;
}

/** -vv: the decoded command and status registers and the latency timer. */
export function controlStatusLines(d: DecodedConfigSpace): string[] {
  const { command: cmd, status } = d.header;
  const out = [
    `\tControl: ${flags(cmd, [
      ["I/O", PCI_COMMAND_IO],
      ["Mem", PCI_COMMAND_MEMORY],
      ["BusMaster", PCI_COMMAND_MASTER],
      ["SpecCycle", PCI_COMMAND_SPECIAL],
      ["MemWINV", PCI_COMMAND_INVALIDATE],
      ["VGASnoop", PCI_COMMAND_VGA_PALETTE],
      ["ParErr", PCI_COMMAND_PARITY],
      ["Stepping", PCI_COMMAND_WAIT],
      ["SERR", PCI_COMMAND_SERR],
      ["FastB2B", PCI_COMMAND_FAST_BACK],
      ["DisINTx", PCI_COMMAND_INTX_DISABLE],
    ])}`,
    `\tStatus: ${flags(status, [
      ["Cap", PCI_STATUS_CAP_LIST],
      ["66MHz", PCI_STATUS_66MHZ],
      ["UDF", PCI_STATUS_UDF],
      ["FastB2B", PCI_STATUS_FAST_BACK],
      ["ParErr", PCI_STATUS_PARITY],
    ])} DEVSEL=${devsel(status)} ${flags(status, [
      [">TAbort", PCI_STATUS_SIG_TARGET_ABORT],
      ["<TAbort", PCI_STATUS_REC_TARGET_ABORT],
      ["<MAbort", PCI_STATUS_REC_MASTER_ABORT],
      [">SERR", PCI_STATUS_SIG_SYSTEM_ERROR],
      ["<PERR", PCI_STATUS_DETECTED_PARITY],
      ["INTx", PCI_STATUS_INTERRUPT],
    ])}`,
  ];
  if (cmd & PCI_COMMAND_MASTER) {
    const { latencyTimer, minGnt, maxLat, cacheLineSize } = d.header;
    let line = `\tLatency: ${latencyTimer}`;
    if (minGnt || maxLat) {
      const parts: string[] = [];
      if (minGnt) parts.push(`${minGnt * 250}ns min`);
      if (maxLat) parts.push(`${maxLat * 250}ns max`);
      line += ` (${parts.join(", ")})`;
    }
    if (cacheLineSize) line += `, Cache Line Size: ${cacheLineSize * 4} bytes`;
    out.push(line);
  }
  return out;
}

/** -v: the one-line summary of command/status ("Flags: bus master, fast devsel, latency 0"). */
export function flagsLine(d: DecodedConfigSpace, irq = 0, iommuGroup?: number): string {
  const { command: cmd, status } = d.header;
  const parts: string[] = [];
  if (cmd & PCI_COMMAND_MASTER) parts.push("bus master");
  if (cmd & PCI_COMMAND_VGA_PALETTE) parts.push("VGA palette snoop");
  if (cmd & PCI_COMMAND_WAIT) parts.push("stepping");
  if (cmd & PCI_COMMAND_FAST_BACK) parts.push("fast Back2Back");
  if (status & PCI_STATUS_66MHZ) parts.push("66MHz");
  if (status & PCI_STATUS_UDF) parts.push("user-definable features");
  parts.push(`${devsel(status)} devsel`);
  if (cmd & PCI_COMMAND_MASTER) parts.push(`latency ${d.header.latencyTimer}`);
  if (irq) parts.push(`IRQ ${irq}`);
  if (iommuGroup !== undefined) parts.push(`IOMMU group ${iommuGroup}`);
  return `\tFlags: ${parts.join(", ")}`;
}

/**
 * -vv: the INTx pin and the IRQ it is routed to, printed when either is set, as lspci
 * does. The IRQ is what the config source reports; pciutils falls back to the Interrupt
 * Line register when its backend knows no routing, and so do we.
 */
export function interruptLine(d: DecodedConfigSpace, irq = 0): string | undefined {
  const pin = d.header.interruptPin;
  if (pin === 0 && irq === 0) return undefined;
  const name = pin === 0 ? "?" : String.fromCharCode(0x40 + pin);
  return `\tInterrupt: pin ${name} routed to IRQ ${irq}`;
}

export function bistLine(d: DecodedConfigSpace): string | undefined {
  const bist = d.header.bist;
  if (!(bist & PCI_BIST_CAPABLE)) return undefined;
  return bist & PCI_BIST_START
    ? "\tBIST is running"
    : `\tBIST result: ${hex(bist & PCI_BIST_CODE_MASK, 2)}`;
}

function memType(bar: DecodedBar): string {
  switch (bar.kind) {
    case "mem64":
      return "64-bit";
    case "mem1m":
      return "low-1M";
    default:
      // A 64-bit BAR in the last slot decodes as mem32; lspci calls that an invalid slot.
      return (bar.raw & 0x6) === 0x4 ? "64-bit" : (bar.raw & 0x6) === 0x6 ? "type 3" : "32-bit";
  }
}

/**
 * "Memory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=1M]"; lspci names
 * the BAR ("Region 0: ...") only from -vv on.
 */
export function barLine(bar: DecodedBar, command: number, verbose: number): string {
  let line = verbose >= 2 ? `\tRegion ${bar.index}: ` : "\t";
  if (bar.kind === "io") {
    line += "I/O ports at ";
    line += bar.address !== 0n || command & PCI_COMMAND_IO ? hex(bar.address, 4) : "<unassigned>";
    if (!(command & PCI_COMMAND_IO)) line += " [disabled]";
  } else {
    line += "Memory at ";
    if (bar.kind !== "mem64" && (bar.raw & 0x6) === 0x4) line += "<invalid-64bit-slot>";
    else line += bar.address !== 0n ? hex(bar.address, 8) : "<unassigned>";
    line += ` (${memType(bar)}, ${bar.prefetchable ? "" : "non-"}prefetchable)`;
    if (!(command & PCI_COMMAND_MEMORY)) line += " [disabled]";
  }
  return line + sizeSuffix(bar.size);
}

export function romLine(rom: DecodedRom, command: number): string {
  let line = "\tExpansion ROM at ";
  line += rom.address !== 0 ? hex(rom.address, 8) : "<unassigned>";
  if (!rom.enabled) line += " [disabled]";
  else if (!(command & PCI_COMMAND_MEMORY)) line += " [disabled by cmd]";
  return line + sizeSuffix(rom.size);
}
