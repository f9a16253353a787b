/**
 * Permission table of the type 0 header. Identity and layout fields are fixed;
 * COMMAND, the BARs, the ROM BAR and the interrupt line are the client's to
 * program; status error bits are the device's to raise and the client's to clear.
 */

import { ALL, type FieldPerm, not32, type PermTable } from "./perms.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BIST,
  PCI_CACHE_LINE_SIZE,
  PCI_CAPABILITY_LIST,
  PCI_CARDBUS_CIS,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_MIN_GNT,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_STATUS,
  PCI_STATUS_ERROR_BITS,
  PCI_STD_NUM_BARS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./regs.js";
import type { BarDef, RomDef } from "./spec.js";

/** COMMAND bits a client may program; the rest (special cycles, MWI, VGA snoop, ...) are hardwired 0. */
export const COMMAND_WRITABLE =
  PCI_COMMAND_IO |
  PCI_COMMAND_MEMORY |
  PCI_COMMAND_MASTER |
  PCI_COMMAND_PARITY |
  PCI_COMMAND_SERR |
  PCI_COMMAND_INTX_DISABLE;

const U64 = (1n << 64n) - 1n;

/**
 * The writable address bits of a BAR: those at or above its size. Writing
 * all-ones therefore reads back exactly the size mask with the fixed type bits,
 * and any stored address is size-aligned, with no fixup pass needed. Returns
 * the lower dword's mask and, for 64-bit BARs, the upper dword's.
 */
export function barWriteMasks(bar: BarDef): [number, number] {
  const mask = U64 ^ (bar.size - 1n);
  if (bar.kind === "io") return [Number(mask & BigInt(PCI_BASE_ADDRESS_IO_MASK)), 0];
  const lo = Number(mask & BigInt(PCI_BASE_ADDRESS_MEM_MASK));
  return [lo, bar.kind === "mem64" ? Number(mask >> 32n) : 0];
}

/** The ROM BAR bits a client may write: the address bits above the ROM's size, and enable. */
export function romWriteMask(rom: RomDef | undefined): number {
  if (!rom) return 0;
  return ((not32(rom.size - 1) & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE) >>> 0;
}

function barFields(bars: readonly (BarDef | undefined)[]): FieldPerm[] {
  const out: FieldPerm[] = [];
  for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
    const bar = bars[i];
    const offset = PCI_BASE_ADDRESS_0 + 4 * i;
    const upperOf = bars[i - 1]?.kind === "mem64" ? bars[i - 1] : undefined;
    if (bar) {
      // BARs are virtualized: the client's bus addresses mean nothing to a software
      // device, and letting it touch the type bits would change what the region is.
      out.push({ name: `BAR${i}`, offset, size: 4, virt: ALL, write: barWriteMasks(bar)[0] });
    } else if (upperOf) {
      // Upper half of a 64-bit BAR: every bit above the size is an address bit.
      out.push({
        name: `BAR${i} (BAR${i - 1} upper)`,
        offset,
        size: 4,
        virt: ALL,
        write: barWriteMasks(upperOf)[1],
      });
    } else {
      // Unimplemented BARs are hardwired 0, which is how sizing software learns they are absent.
      out.push({ name: `BAR${i}`, offset, size: 4, virt: ALL });
    }
  }
  return out;
}

/** Header table for a function with the given BARs and ROM. */
export function headerTable(
  bars: readonly (BarDef | undefined)[],
  rom: RomDef | undefined,
  express: boolean,
): PermTable {
  return [
    // Identity: the client binds a driver to it; a writable identity would let a
    // guest make the device claim to be something else. Fixed.
    { name: "VENDOR_ID", offset: PCI_VENDOR_ID, size: 2, virt: 0xffff },
    { name: "DEVICE_ID", offset: PCI_DEVICE_ID, size: 2, virt: 0xffff },
    // COMMAND is virtualized because the framework acts on it: MEMORY/IO gate BAR
    // accesses (MMIO blocking), INTX_DISABLE gates INTx, MASTER gates DMA.
    { name: "COMMAND", offset: PCI_COMMAND, size: 2, virt: 0xffff, write: COMMAND_WRITABLE },
    // STATUS: CAP_LIST must match the list the framework walked, INTERRUPT mirrors
    // the INTx line the device layer drives (setIntxAsserted), so both are virtual
    // and read-only. Error bits are raised by the device and cleared by writing 1.
    {
      name: "STATUS",
      offset: PCI_STATUS,
      size: 2,
      virt: 0xffff & not32(PCI_STATUS_ERROR_BITS),
      rw1c: PCI_STATUS_ERROR_BITS,
    },
    { name: "CLASS_REVISION", offset: PCI_CLASS_REVISION, size: 4, virt: ALL },
    // Cache line size is a plain scratch register that OSes program; harmless.
    { name: "CACHE_LINE_SIZE", offset: PCI_CACHE_LINE_SIZE, size: 1, virt: 0xff, write: 0xff },
    // PCI Express hardwires the latency timer to 0; conventional PCI lets software set it.
    {
      name: "LATENCY_TIMER",
      offset: PCI_LATENCY_TIMER,
      size: 1,
      virt: 0xff,
      write: express ? 0 : 0xff,
    },
    // The header layout must not change under the framework's feet.
    { name: "HEADER_TYPE", offset: PCI_HEADER_TYPE, size: 1, virt: 0xff },
    // No built-in self test: BIST capable is 0, so the start bit is hardwired too.
    { name: "BIST", offset: PCI_BIST, size: 1, virt: 0xff },
    ...barFields(bars),
    { name: "CARDBUS_CIS", offset: PCI_CARDBUS_CIS, size: 4, virt: ALL },
    { name: "SUBSYSTEM_VENDOR_ID", offset: PCI_SUBSYSTEM_VENDOR_ID, size: 2, virt: 0xffff },
    { name: "SUBSYSTEM_ID", offset: PCI_SUBSYSTEM_ID, size: 2, virt: 0xffff },
    // ROM BAR: sized like a memory BAR, plus the enable bit that gates ROM decode.
    { name: "ROM_ADDRESS", offset: PCI_ROM_ADDRESS, size: 4, virt: ALL, write: romWriteMask(rom) },
    // The capability pointer heads the list the ownership map was built from;
    // a client that moved it could hide capabilities or alias protected bytes.
    { name: "CAPABILITY_LIST", offset: PCI_CAPABILITY_LIST, size: 1, virt: 0xff },
    { name: "reserved", offset: PCI_CAPABILITY_LIST + 1, size: 7, virt: ALL },
    // The interrupt line is an OS scratch byte (routing information): virtual, writable.
    { name: "INTERRUPT_LINE", offset: PCI_INTERRUPT_LINE, size: 1, virt: 0xff, write: 0xff },
    // Which INTx pin the function uses is a property of the device.
    { name: "INTERRUPT_PIN", offset: PCI_INTERRUPT_PIN, size: 1, virt: 0xff },
    { name: "MIN_GNT/MAX_LAT", offset: PCI_MIN_GNT, size: 2, virt: 0xffff },
  ];
}
