/**
 * Typed views of the state that config space programs (MSI, MSI-X, BARs, ROM,
 * power state), read from any config image. The virtualizer uses them on its
 * live image, the decoder on raw dumps; callers ensure the capability lies
 * inside the buffer (the walk guarantees it).
 */
import { getU16, getU32 } from "./bytes.js";
import { msiCapableLog2 } from "./perms-caps.js";
import {
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_MSI_ADDRESS_HI,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_32,
  PCI_MSI_DATA_64,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QSIZE,
  PCI_MSI_MASK_32,
  PCI_MSI_MASK_64,
  PCI_MSI_PENDING_32,
  PCI_MSI_PENDING_64,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_FLAGS_QSIZE,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_MSIX_TABLE_BIR,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
} from "./regs.js";
import type { BarKind } from "./spec.js";

/** The MSI capability's layout and programming, read from config bytes. */
export interface MsiState {
  /** Offset of the capability in config space. */
  readonly offset: number;
  readonly enabled: boolean;
  /** Multiple Message Capable, as a vector count (1..32). */
  readonly capableVectors: number;
  /** Multiple Message Enable, as a vector count (1..32, never above capableVectors). */
  readonly enabledVectors: number;
  readonly addr64: boolean;
  readonly perVectorMask: boolean;
  readonly address: bigint;
  /** Message data of vector 0; vector v sends (data & ~(enabledVectors - 1)) | v. */
  readonly data: number;
  /** 0 without per-vector masking. */
  readonly maskBits: number;
  readonly pendingBits: number;
}

export function readMsi(b: Uint8Array, off: number): MsiState {
  const flags = getU16(b, off + PCI_MSI_FLAGS);
  const addr64 = (flags & PCI_MSI_FLAGS_64BIT) !== 0;
  const perVectorMask = (flags & PCI_MSI_FLAGS_MASKBIT) !== 0;
  const capable = msiCapableLog2(flags);
  const enabled = Math.min(capable, (flags & PCI_MSI_FLAGS_QSIZE) >> 4);
  const hi = addr64 ? BigInt(getU32(b, off + PCI_MSI_ADDRESS_HI)) << 32n : 0n;
  return {
    offset: off,
    enabled: (flags & PCI_MSI_FLAGS_ENABLE) !== 0,
    capableVectors: 1 << capable,
    enabledVectors: 1 << enabled,
    addr64,
    perVectorMask,
    address: hi | BigInt(getU32(b, off + PCI_MSI_ADDRESS_LO)),
    data: getU16(b, off + (addr64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32)),
    maskBits: perVectorMask ? getU32(b, off + (addr64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32)) : 0,
    pendingBits: perVectorMask
      ? getU32(b, off + (addr64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32))
      : 0,
  };
}

export function msiStateEqual(a: MsiState, b: MsiState): boolean {
  return (
    a.enabled === b.enabled &&
    a.enabledVectors === b.enabledVectors &&
    a.address === b.address &&
    a.data === b.data &&
    a.maskBits === b.maskBits &&
    a.pendingBits === b.pendingBits
  );
}

/** The MSI-X capability's enable, function mask and table and PBA locations. */
export interface MsixState {
  readonly offset: number;
  readonly enabled: boolean;
  readonly functionMask: boolean;
  /** Number of table entries (1..2048). */
  readonly tableSize: number;
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
}

export function readMsix(b: Uint8Array, off: number): MsixState {
  const flags = getU16(b, off + PCI_MSIX_FLAGS);
  const table = getU32(b, off + PCI_MSIX_TABLE);
  const pba = getU32(b, off + PCI_MSIX_PBA);
  return {
    offset: off,
    enabled: (flags & PCI_MSIX_FLAGS_ENABLE) !== 0,
    functionMask: (flags & PCI_MSIX_FLAGS_MASKALL) !== 0,
    tableSize: (flags & PCI_MSIX_FLAGS_QSIZE) + 1,
    tableBar: table & PCI_MSIX_TABLE_BIR,
    tableOffset: (table & ~PCI_MSIX_TABLE_BIR) >>> 0,
    pbaBar: pba & PCI_MSIX_TABLE_BIR,
    pbaOffset: (pba & ~PCI_MSIX_TABLE_BIR) >>> 0,
  };
}

/** A BAR as implemented and programmed: kind, size and address. */
export interface BarState {
  readonly index: number;
  readonly kind: BarKind;
  readonly prefetchable: boolean;
  readonly size: bigint;
  /** The programmed base address (type bits stripped). */
  readonly address: bigint;
}

/** Base address programmed in a BAR whose kind is known. */
export function barAddress(b: Uint8Array, index: number, kind: BarKind): bigint {
  const off = 0x10 + 4 * index;
  const lo = getU32(b, off);
  if (kind === "io") return BigInt((lo & PCI_BASE_ADDRESS_IO_MASK) >>> 0);
  const base = BigInt((lo & PCI_BASE_ADDRESS_MEM_MASK) >>> 0);
  return kind === "mem64" ? (BigInt(getU32(b, off + 4)) << 32n) | base : base;
}

/** The expansion ROM as programmed: size, address and enable. */
export interface RomState {
  readonly size: number;
  readonly address: number;
  readonly enabled: boolean;
}

export function readRom(b: Uint8Array, size: number): RomState {
  const v = getU32(b, 0x30);
  return {
    size,
    address: (v & PCI_ROM_ADDRESS_MASK) >>> 0,
    enabled: (v & PCI_ROM_ADDRESS_ENABLE) !== 0,
  };
}

/** D0..D3hot as the PMCSR PowerState field encodes them. */
export type PowerState = 0 | 1 | 2 | 3;
