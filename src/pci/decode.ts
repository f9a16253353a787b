/**
 * lspci-style decoding of raw config bytes (no virtualizer): header fields,
 * BARs (with sizes when the caller supplies the values read back after
 * writing all-ones), and both capability lists. Tolerant like lspci: what is
 * malformed goes to `problems` and decoding continues. The only exception is
 * a VfioError EINVAL for a buffer too short to hold a header.
 */
import { VfioError } from "../errors.js";
import { getU16, getU32 } from "./bytes.js";
import {
  type DecodedCapability,
  type DecodedExtCapability,
  decodeExtendedCapability,
  decodeStandardCapability,
} from "./decode-caps.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_1M,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_BIST,
  PCI_CACHE_LINE_SIZE,
  PCI_CAPABILITY_LIST,
  PCI_CARDBUS_CIS,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_COMMAND,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_MFD,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_MAX_LAT,
  PCI_MIN_GNT,
  PCI_REVISION_ID,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_STATUS,
  PCI_STD_HEADER_SIZEOF,
  PCI_STD_NUM_BARS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./regs.js";
import { walkCapabilities } from "./walk.js";

/** The fields of a type 0 header, decoded for lspci-style output. */
export interface DecodedHeader {
  readonly vendorId: number;
  readonly deviceId: number;
  readonly command: number;
  readonly status: number;
  readonly revision: number;
  readonly classCode: number;
  readonly baseClass: number;
  readonly subclass: number;
  readonly progIf: number;
  readonly cacheLineSize: number;
  readonly latencyTimer: number;
  /** Layout (0 endpoint, 1 bridge, 2 CardBus). */
  readonly headerType: number;
  readonly multiFunction: boolean;
  readonly bist: number;
  readonly cardbusCis: number;
  readonly subsystemVendorId: number;
  readonly subsystemId: number;
  readonly romAddress: number;
  readonly capabilitiesPointer: number;
  readonly interruptLine: number;
  readonly interruptPin: number;
  readonly minGnt: number;
  readonly maxLat: number;
}

/** A decoded BAR: type, address and, given the sizing mask, its size. */
export interface DecodedBar {
  readonly index: number;
  /** "mem1m" is the legacy below-1-MiB type (reserved since PCI 3.0). */
  readonly kind: "io" | "mem32" | "mem64" | "mem1m";
  readonly prefetchable: boolean;
  readonly address: bigint;
  /** From the sizing mask; undefined when no mask was given. */
  readonly size: bigint | undefined;
  /** The register value (lower dword). */
  readonly raw: number;
}

/** A decoded expansion ROM BAR. */
export interface DecodedRom {
  readonly address: number;
  readonly enabled: boolean;
  readonly size: number | undefined;
  readonly raw: number;
}

/** What decoding needs besides the bytes: BAR and ROM sizing masks read back by the caller. */
export interface DecodeOptions {
  /** For each BAR register, the value read back after writing 0xffffffff to it. */
  readonly barMasks?: readonly number[];
  /** The ROM register read back after writing 0xfffff800. */
  readonly romMask?: number;
}

/** A whole config space decoded: header, BARs, ROM, capabilities and what looked wrong. */
export interface DecodedConfigSpace {
  readonly header: DecodedHeader;
  readonly bars: readonly DecodedBar[];
  readonly rom: DecodedRom | undefined;
  readonly capabilities: readonly DecodedCapability[];
  readonly extendedCapabilities: readonly DecodedExtCapability[];
  readonly problems: readonly string[];
}

function requireHeader(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length < PCI_STD_HEADER_SIZEOF) {
    throw new VfioError("EINVAL", "config space dump is shorter than the 64-byte header");
  }
}

/** Decodes the 64-byte type 0 header; throws EINVAL if `bytes` is shorter. */
export function decodeHeader(bytes: Uint8Array): DecodedHeader {
  requireHeader(bytes);
  const b = bytes;
  const classCode = getU32(b, PCI_REVISION_ID) >>> 8;
  return {
    vendorId: getU16(b, PCI_VENDOR_ID),
    deviceId: getU16(b, PCI_DEVICE_ID),
    command: getU16(b, PCI_COMMAND),
    status: getU16(b, PCI_STATUS),
    revision: b[PCI_REVISION_ID]!,
    classCode,
    baseClass: classCode >>> 16,
    subclass: (classCode >>> 8) & 0xff,
    progIf: classCode & 0xff,
    cacheLineSize: b[PCI_CACHE_LINE_SIZE]!,
    latencyTimer: b[PCI_LATENCY_TIMER]!,
    headerType: b[PCI_HEADER_TYPE]! & PCI_HEADER_TYPE_MASK,
    multiFunction: (b[PCI_HEADER_TYPE]! & PCI_HEADER_TYPE_MFD) !== 0,
    bist: b[PCI_BIST]!,
    cardbusCis: getU32(b, PCI_CARDBUS_CIS),
    subsystemVendorId: getU16(b, PCI_SUBSYSTEM_VENDOR_ID),
    subsystemId: getU16(b, PCI_SUBSYSTEM_ID),
    romAddress: getU32(b, PCI_ROM_ADDRESS),
    capabilitiesPointer: b[PCI_CAPABILITY_LIST]!,
    interruptLine: b[PCI_INTERRUPT_LINE]!,
    interruptPin: b[PCI_INTERRUPT_PIN]!,
    minGnt: b[PCI_MIN_GNT]!,
    maxLat: b[PCI_MAX_LAT]!,
  };
}

function lowestBit(v: bigint): bigint {
  return v & -v;
}

function maskAt(masks: readonly number[] | undefined, i: number): number | undefined {
  const m = masks?.[i];
  return typeof m === "number" && Number.isFinite(m) ? m >>> 0 : undefined;
}

/**
 * Decodes the six BARs of a type 0 header. Without masks a BAR counts as
 * present when its register is non-zero; with masks, when it has address bits.
 */
export function decodeBars(bytes: Uint8Array, barMasks?: readonly number[]): DecodedBar[] {
  requireHeader(bytes);
  const out: DecodedBar[] = [];
  for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
    const raw = getU32(bytes, PCI_BASE_ADDRESS_0 + 4 * i);
    const mask = maskAt(barMasks, i);
    if (raw & PCI_BASE_ADDRESS_SPACE_IO) {
      let m = mask === undefined ? undefined : (mask & PCI_BASE_ADDRESS_IO_MASK) >>> 0;
      // Devices that decode only 16 I/O address bits hardwire the upper half to 0.
      if (m !== undefined && m !== 0 && (m & 0xffff0000) === 0) m = (m | 0xffff0000) >>> 0;
      if (mask !== undefined ? m === 0 : raw === 0) continue;
      const size = m === undefined ? undefined : lowestBit(BigInt(m));
      const address = BigInt((raw & PCI_BASE_ADDRESS_IO_MASK) >>> 0);
      out.push({ index: i, kind: "io", prefetchable: false, address, size, raw });
      continue;
    }
    const type = raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK;
    const is64 = type === PCI_BASE_ADDRESS_MEM_TYPE_64 && i < PCI_STD_NUM_BARS - 1;
    const prefetchable = (raw & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
    let address = BigInt((raw & PCI_BASE_ADDRESS_MEM_MASK) >>> 0);
    let m = mask === undefined ? undefined : BigInt((mask & PCI_BASE_ADDRESS_MEM_MASK) >>> 0);
    if (is64) {
      address |= BigInt(getU32(bytes, PCI_BASE_ADDRESS_0 + 4 * (i + 1))) << 32n;
      const upper = maskAt(barMasks, i + 1);
      if (m !== undefined) m |= BigInt(upper ?? 0) << 32n;
    }
    const present = m !== undefined ? m !== 0n : raw !== 0 || (is64 && address !== 0n);
    if (present) {
      const kind = is64 ? "mem64" : type === PCI_BASE_ADDRESS_MEM_TYPE_1M ? "mem1m" : "mem32";
      out.push({
        index: i,
        kind,
        prefetchable,
        address,
        size: m === undefined ? undefined : lowestBit(m),
        raw,
      });
    }
    if (is64) i++;
  }
  return out;
}

/** Decodes the ROM BAR, with its size when the sizing mask is given; undefined when absent. */
export function decodeRom(bytes: Uint8Array, romMask?: number): DecodedRom | undefined {
  requireHeader(bytes);
  const raw = getU32(bytes, PCI_ROM_ADDRESS);
  const m =
    typeof romMask === "number" && Number.isFinite(romMask)
      ? (romMask & PCI_ROM_ADDRESS_MASK) >>> 0
      : undefined;
  if (m !== undefined ? m === 0 : raw === 0) return undefined;
  return {
    address: (raw & PCI_ROM_ADDRESS_MASK) >>> 0,
    enabled: (raw & PCI_ROM_ADDRESS_ENABLE) !== 0,
    size: m === undefined ? undefined : Number(lowestBit(BigInt(m))),
    raw,
  };
}

/** Decodes a whole dump (64, 256 or 4096 bytes; shorter dumps decode what they hold). */
export function decodeConfigSpace(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): DecodedConfigSpace {
  const header = decodeHeader(bytes);
  const problems: string[] = [];
  const typeZero = header.headerType === 0;
  if (!typeZero) problems.push(`header type ${header.headerType}: BARs and ROM not decoded`);
  const walk = walkCapabilities(bytes);
  problems.push(...walk.problems);
  // Capability decoders read fixed register offsets; a zero-padded copy keeps
  // every read in bounds whatever the walk let through.
  const padded = new Uint8Array(PCI_CFG_SPACE_EXP_SIZE + 64);
  padded.set(bytes.subarray(0, PCI_CFG_SPACE_EXP_SIZE));
  return {
    header,
    bars: typeZero ? decodeBars(bytes, options.barMasks) : [],
    rom: typeZero ? decodeRom(bytes, options.romMask) : undefined,
    capabilities: walk.standard.map((c) => decodeStandardCapability(padded, c)),
    extendedCapabilities: walk.extended.map((c) => decodeExtendedCapability(padded, c)),
    problems,
  };
}
