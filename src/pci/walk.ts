/**
 * Walks the standard capability list (from PCI_CAPABILITY_LIST) and the
 * extended list (from 0x100) of a raw config image. Both walks are bounded by
 * the number of dword slots that exist, remember every visited offset (so a
 * cycle ends the walk), and never read outside the buffer: the image may come
 * from a device we did not build (a proxied device, an lspci dump), so nothing
 * in it is trusted. Malformations are reported in `problems`, never thrown.
 */
import { getU16, getU32, hex } from "./bytes.js";
import {
  PCI_CAP_EXP_ENDPOINT_SIZEOF_V1,
  PCI_CAP_EXP_ENDPOINT_SIZEOF_V2,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_CAP_MSIX_SIZEOF,
  PCI_CAP_VNDR_LEN,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_ERR_HEADER_LOG,
  PCI_ERR_SIZEOF,
  PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_VERS,
  PCI_EXT_CAP_DSN_SIZEOF,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_VNDR,
  PCI_EXT_CAP_VNDR_HEADER_SIZEOF,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_PM_SIZEOF,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF,
  PCI_VNDR_HEADER,
  PCI_VNDR_HEADER_LEN_SHIFT,
} from "./regs.js";

/** Where one capability lives. `version` is the extended header's version (0 for standard). */
export interface CapabilityInfo {
  readonly id: number;
  readonly extended: boolean;
  readonly offset: number;
  readonly length: number;
  readonly version: number;
}

/** The capability lists found in config space, and what was wrong with them. */
export interface WalkResult {
  readonly standard: readonly CapabilityInfo[];
  readonly extended: readonly CapabilityInfo[];
  readonly problems: readonly string[];
}

/** Length of a capability as its own registers describe it; `room` is the space up to the next one. */
type LengthOf = (b: Uint8Array, off: number, room: number) => number;

function safeU16(b: Uint8Array, o: number): number {
  return o + 2 <= b.length ? getU16(b, o) : 0;
}

function safeU32(b: Uint8Array, o: number): number {
  return o + 4 <= b.length ? getU32(b, o) : 0;
}

/** The MSI length follows from its flags: 10 bytes, +4 for a 64-bit address, +10 for mask/pending. */
export function msiLength(flags: number): number {
  return 10 + (flags & PCI_MSI_FLAGS_64BIT ? 4 : 0) + (flags & PCI_MSI_FLAGS_MASKBIT ? 10 : 0);
}

const STANDARD_LENGTHS = new Map<number, LengthOf>([
  [PCI_CAP_ID_PM, () => PCI_PM_SIZEOF],
  [PCI_CAP_ID_MSI, (b, off) => msiLength(safeU16(b, off + PCI_MSI_FLAGS))],
  [PCI_CAP_ID_MSIX, () => PCI_CAP_MSIX_SIZEOF],
  [
    PCI_CAP_ID_EXP,
    (b, off) =>
      (safeU16(b, off + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_VERS) >= 2
        ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2
        : PCI_CAP_EXP_ENDPOINT_SIZEOF_V1,
  ],
  [PCI_CAP_ID_VNDR, (b, off) => Math.max(3, b[off + PCI_CAP_VNDR_LEN] ?? 0)],
]);

const EXTENDED_LENGTHS = new Map<number, LengthOf>([
  [PCI_EXT_CAP_ID_DSN, () => PCI_EXT_CAP_DSN_SIZEOF],
  // Endpoints may stop after the header log; v2 adds the TLP prefix log.
  [
    PCI_EXT_CAP_ID_ERR,
    (_b, _off, room) => Math.max(PCI_ERR_HEADER_LOG + 16, Math.min(PCI_ERR_SIZEOF, room)),
  ],
  [
    PCI_EXT_CAP_ID_VNDR,
    (b, off) =>
      Math.max(
        PCI_EXT_CAP_VNDR_HEADER_SIZEOF,
        safeU32(b, off + PCI_VNDR_HEADER) >>> PCI_VNDR_HEADER_LEN_SHIFT,
      ),
  ],
]);

interface Found {
  id: number;
  offset: number;
  version: number;
}

/**
 * Gives every found capability a length: its own if its id is known, else the
 * gap up to the next capability (so unknown capabilities stay readable).
 */
function measure(
  b: Uint8Array,
  found: Found[],
  end: number,
  extended: boolean,
  problems: string[],
): CapabilityInfo[] {
  const lengths = extended ? EXTENDED_LENGTHS : STANDARD_LENGTHS;
  const sorted = [...found].sort((x, y) => x.offset - y.offset);
  const out: CapabilityInfo[] = [];
  for (const f of found) {
    const i = sorted.indexOf(f);
    const limit = i + 1 < sorted.length ? sorted[i + 1]!.offset : end;
    const lengthOf = lengths.get(f.id);
    let length = lengthOf ? lengthOf(b, f.offset, limit - f.offset) : limit - f.offset;
    const what = `${extended ? "extended " : ""}capability ${hex(f.id)} at ${hex(f.offset)}`;
    if (f.offset + length > end) {
      problems.push(`${what} (length ${length}) runs past the end of config space`);
      length = end - f.offset;
    } else if (f.offset + length > limit) {
      problems.push(`${what} (length ${length}) overlaps the capability at ${hex(limit)}`);
    }
    out.push({ id: f.id, extended, offset: f.offset, length, version: f.version });
  }
  return out;
}

function walkStandard(b: Uint8Array, problems: string[]): CapabilityInfo[] {
  if (b.length < PCI_STD_HEADER_SIZEOF) {
    problems.push(`config space of ${b.length} bytes has no complete header`);
    return [];
  }
  if ((getU16(b, PCI_STATUS) & PCI_STATUS_CAP_LIST) === 0) return [];
  const end = Math.min(b.length, PCI_CFG_SPACE_SIZE);
  const seen = new Set<number>();
  const found: Found[] = [];
  let ptr = b[PCI_CAPABILITY_LIST]! & 0xfc;
  // At most one capability per dword of [0x40, 0x100); the seen-set ends cycles sooner.
  for (let n = 0; ptr !== 0 && n < (PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / 4; n++) {
    if (ptr < PCI_STD_HEADER_SIZEOF || ptr + 2 > end) {
      problems.push(`capability pointer ${hex(ptr)} is outside [0x40, ${hex(end)})`);
      break;
    }
    if (seen.has(ptr)) {
      problems.push(`capability list loops back to ${hex(ptr)}`);
      break;
    }
    seen.add(ptr);
    found.push({ id: b[ptr]!, offset: ptr, version: 0 });
    ptr = b[ptr + 1]! & 0xfc;
  }
  return measure(b, found, end, false, problems);
}

function walkExtended(b: Uint8Array, problems: string[]): CapabilityInfo[] {
  const end = Math.min(b.length, PCI_CFG_SPACE_EXP_SIZE);
  if (end < PCI_CFG_SPACE_SIZE + 4) return [];
  const seen = new Set<number>();
  const found: Found[] = [];
  let off = PCI_CFG_SPACE_SIZE;
  for (let n = 0; n < (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 4; n++) {
    const h = getU32(b, off);
    // All zeros at 0x100 means "no extended capabilities"; all ones is what absent space reads.
    if (h === 0 || h === 0xffffffff) {
      if (off !== PCI_CFG_SPACE_SIZE)
        problems.push(`extended capability list points at an empty header at ${hex(off)}`);
      break;
    }
    seen.add(off);
    found.push({ id: h & 0xffff, offset: off, version: (h >>> 16) & 0xf });
    const next = (h >>> 20) & 0xffc;
    if (next === 0) break;
    if (next < PCI_CFG_SPACE_SIZE || next + 4 > end) {
      problems.push(`extended capability pointer ${hex(next)} is outside [0x100, ${hex(end)})`);
      break;
    }
    if (seen.has(next)) {
      problems.push(`extended capability list loops back to ${hex(next)}`);
      break;
    }
    off = next;
  }
  return measure(b, found, end, true, problems);
}

/** Walks both capability lists of a raw image. Never throws; reports what is wrong. */
export function walkCapabilities(bytes: Uint8Array): WalkResult {
  const problems: string[] = [];
  const standard = walkStandard(bytes, problems);
  const extended = walkExtended(bytes, problems);
  return { standard, extended, problems };
}
