/**
 * Builds the initial config image of a type 0 function from a ConfigSpec:
 * header fields, BAR type bits, capabilities placed (dword aligned, no
 * overlap) and chained in address order. Everything is validated here so the
 * virtualizer can trust builder output; errors are VfioError EINVAL (bad
 * values) or ENOSPC (capabilities do not fit).
 */
import { VfioError } from "../errors.js";
import { hex, isPowerOfTwo, setU16, setU32 } from "./bytes.js";
import { type Encoder, EXTENDED_ENCODERS, STANDARD_ENCODERS } from "./caps-encode.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_CLASS_PROG,
  PCI_DEVICE_ID,
  PCI_INTERRUPT_PIN,
  PCI_MSIX_ENTRY_SIZE,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF,
  PCI_STD_NUM_BARS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./regs.js";
import type {
  BarDef,
  BarSpec,
  CapabilitySpec,
  ConfigImage,
  ConfigSpec,
  ExtCapabilitySpec,
  MsixSpec,
  RomDef,
} from "./spec.js";

function invalid(message: string): never {
  throw new VfioError("EINVAL", message);
}

function checkInt(v: number, lo: number, hi: number, what: string): void {
  if (!Number.isInteger(v) || v < lo || v > hi)
    invalid(`${what} must be an integer in [${lo}, ${hi}], got ${v}`);
}

const BAR_LIMITS: Record<BarSpec["kind"], readonly [bigint, bigint]> = {
  io: [4n, 256n],
  mem32: [16n, 1n << 31n],
  mem64: [16n, 1n << 63n],
};

/** BAR type bits (the read-only low bits of the register). */
export function barTypeBits(def: BarDef): number {
  if (def.kind === "io") return PCI_BASE_ADDRESS_SPACE_IO;
  return (
    (def.kind === "mem64" ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
    (def.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0)
  );
}

/** Validates BAR specs into six slots; the slot after a mem64 BAR is its upper half. */
export function validateBars(
  specs: readonly (BarSpec | undefined)[] | undefined,
): (BarDef | undefined)[] {
  const out: (BarDef | undefined)[] = new Array(PCI_STD_NUM_BARS).fill(undefined);
  if (!specs) return out;
  if (specs.length > PCI_STD_NUM_BARS) invalid(`a type 0 header has 6 BARs, got ${specs.length}`);
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    if (!s) continue;
    const [min, max] = BAR_LIMITS[s.kind] ?? invalid(`BAR${i} has unknown kind ${String(s.kind)}`);
    let size: bigint;
    try {
      size = BigInt(s.size);
    } catch {
      invalid(`BAR${i} size ${String(s.size)} is not an integer`);
    }
    if (!isPowerOfTwo(size)) invalid(`BAR${i} size ${size} is not a power of two`);
    if (size < min || size > max)
      invalid(`BAR${i} ${s.kind} size ${size} is outside [${min}, ${max}]`);
    if (s.kind === "mem64") {
      if (i === PCI_STD_NUM_BARS - 1) invalid("BAR5 cannot be 64-bit: it needs the next slot too");
      // The slot after a 64-bit BAR is its upper half, so no BAR can start there.
      if (specs[i + 1])
        invalid(`BAR${i + 1} is the upper half of 64-bit BAR${i} and must be empty`);
    }
    const prefetchable = s.kind === "io" ? false : (s.prefetchable ?? false);
    out[i] = { index: i, kind: s.kind, size, prefetchable };
  }
  return out;
}

/** Checks a ROM declaration (a power of two of at least 2 KiB); undefined without a ROM. */
export function validateRom(rom: { readonly size: number } | undefined): RomDef | undefined {
  if (!rom) return undefined;
  checkInt(rom.size, 2048, 2 ** 31, "ROM size");
  if (!isPowerOfTwo(BigInt(rom.size))) invalid(`ROM size ${rom.size} is not a power of two`);
  return { size: rom.size };
}

function validateMsix(s: MsixSpec, bars: readonly (BarDef | undefined)[]): void {
  const n = s.tableSize;
  const check = (bir: number, offset: number, bytes: number, what: string): BarDef => {
    checkInt(bir, 0, PCI_STD_NUM_BARS - 1, `MSI-X ${what} BAR`);
    const bar = bars[bir];
    if (!bar || bar.kind === "io")
      invalid(`MSI-X ${what} BAR${bir} is not an implemented memory BAR`);
    checkInt(offset, 0, 0xfffffff8, `MSI-X ${what} offset`);
    if (offset % 8 !== 0) invalid(`MSI-X ${what} offset ${hex(offset)} is not 8-byte aligned`);
    if (BigInt(offset + bytes) > bar.size) {
      invalid(
        `MSI-X ${what} [${hex(offset)}, ${hex(offset + bytes)}) does not fit BAR${bir} of ${bar.size} bytes`,
      );
    }
    return bar;
  };
  const tableBytes = n * PCI_MSIX_ENTRY_SIZE;
  const pbaBytes = msixPbaSize(n);
  check(s.tableBar, s.tableOffset, tableBytes, "table");
  check(s.pbaBar, s.pbaOffset, pbaBytes, "PBA");
  if (
    s.tableBar === s.pbaBar &&
    s.tableOffset < s.pbaOffset + pbaBytes &&
    s.pbaOffset < s.tableOffset + tableBytes
  ) {
    invalid(`MSI-X table and PBA overlap in BAR${s.tableBar}`);
  }
}

interface Item {
  readonly what: string;
  readonly offset: number | undefined;
  readonly length: number;
}

/**
 * Places items in [lo, hi): explicit offsets are checked (dword aligned,
 * inside, disjoint), the rest go first-fit at dword-aligned offsets.
 */
export function placeCapabilities(items: readonly Item[], lo: number, hi: number): number[] {
  const taken: { start: number; end: number; what: string }[] = [];
  const offsets: number[] = new Array(items.length).fill(-1);
  const clash = (start: number, end: number) => taken.find((t) => start < t.end && t.start < end);
  items.forEach((it, i) => {
    if (it.offset === undefined) return;
    checkInt(it.offset, lo, hi - it.length, `${it.what} offset`);
    if (it.offset % 4 !== 0) invalid(`${it.what} offset ${hex(it.offset)} is not dword aligned`);
    const other = clash(it.offset, it.offset + it.length);
    if (other)
      invalid(`${it.what} at ${hex(it.offset)} overlaps ${other.what} at ${hex(other.start)}`);
    taken.push({ start: it.offset, end: it.offset + it.length, what: it.what });
    offsets[i] = it.offset;
  });
  items.forEach((it, i) => {
    if (it.offset !== undefined) return;
    let pos = lo;
    for (let other = clash(pos, pos + it.length); other; other = clash(pos, pos + it.length)) {
      pos = (other.end + 3) & ~3;
    }
    if (pos + it.length > hi) {
      throw new VfioError(
        "ENOSPC",
        `no room for ${it.what} (${it.length} bytes) in [${hex(lo)}, ${hex(hi)})`,
      );
    }
    taken.push({ start: pos, end: pos + it.length, what: it.what });
    offsets[i] = pos;
  });
  return offsets;
}

// Each table entry is typed for its own kind; the kind lookup guarantees the pairing.
function stdEncoder(kind: string): Encoder<CapabilitySpec> {
  const enc = (STANDARD_ENCODERS as Record<string, unknown>)[kind];
  if (!enc) invalid(`unknown capability kind ${kind}`);
  return enc as Encoder<CapabilitySpec>;
}

function extEncoder(kind: string): Encoder<ExtCapabilitySpec> {
  const enc = (EXTENDED_ENCODERS as Record<string, unknown>)[kind];
  if (!enc) invalid(`unknown extended capability kind ${kind}`);
  return enc as Encoder<ExtCapabilitySpec>;
}

const UNIQUE = new Set(["pm", "msi", "msix", "pcie", "dsn", "aer"]);

function checkUnique(kinds: readonly string[]): void {
  const seen = new Set<string>();
  for (const k of kinds) {
    if (UNIQUE.has(k) && seen.has(k)) invalid(`capability "${k}" may appear only once`);
    seen.add(k);
  }
}

function writeHeader(b: Uint8Array, spec: ConfigSpec, bars: readonly (BarDef | undefined)[]): void {
  checkInt(spec.vendorId, 0, 0xfffe, "vendorId");
  checkInt(spec.deviceId, 0, 0xffff, "deviceId");
  checkInt(spec.subsystemVendorId ?? 0, 0, 0xffff, "subsystemVendorId");
  checkInt(spec.subsystemId ?? 0, 0, 0xffff, "subsystemId");
  checkInt(spec.classCode, 0, 0xffffff, "classCode");
  checkInt(spec.revision ?? 0, 0, 0xff, "revision");
  checkInt(spec.interruptPin ?? 0, 0, 4, "interruptPin");
  setU16(b, PCI_VENDOR_ID, spec.vendorId);
  setU16(b, PCI_DEVICE_ID, spec.deviceId);
  b[PCI_REVISION_ID] = spec.revision ?? 0;
  b[PCI_CLASS_PROG] = spec.classCode & 0xff;
  setU16(b, PCI_CLASS_PROG + 1, spec.classCode >>> 8);
  setU16(b, PCI_SUBSYSTEM_VENDOR_ID, spec.subsystemVendorId ?? 0);
  setU16(b, PCI_SUBSYSTEM_ID, spec.subsystemId ?? 0);
  b[PCI_INTERRUPT_PIN] = spec.interruptPin ?? 0;
  for (const bar of bars) {
    if (bar) setU32(b, PCI_BASE_ADDRESS_0 + 4 * bar.index, barTypeBits(bar));
  }
}

/** Builds and validates the initial image of a function's config space. */
export function buildConfigSpace(spec: ConfigSpec): ConfigImage {
  const bars = validateBars(spec.bars);
  const rom = validateRom(spec.rom);
  const caps = spec.capabilities ?? [];
  const ext = spec.extendedCapabilities ?? [];
  checkUnique(caps.map((c) => c.kind));
  checkUnique(ext.map((c) => c.kind));
  const express = caps.some((c) => c.kind === "pcie");
  if (ext.length > 0 && !express) invalid("extended capabilities need a PCI Express capability");
  const size = express ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE;
  const b = new Uint8Array(size);
  writeHeader(b, spec, bars);

  const stdEncoders = caps.map((c) => stdEncoder(c.kind));
  const stdItems = caps.map((c, i) => ({
    what: `capability "${c.kind}"`,
    offset: c.offset,
    length: stdEncoders[i]!.length(c),
  }));
  for (const c of caps) if (c.kind === "msix") validateMsix(c, bars);
  const stdOffsets = placeCapabilities(stdItems, PCI_STD_HEADER_SIZEOF, PCI_CFG_SPACE_SIZE);
  caps.forEach((c, i) => {
    b[stdOffsets[i]!] = stdEncoders[i]!.id;
    stdEncoders[i]!.write(b, stdOffsets[i]!, c);
  });
  const stdOrder = [...stdOffsets].sort((x, y) => x - y);
  if (stdOrder.length > 0) {
    setU16(b, PCI_STATUS, PCI_STATUS_CAP_LIST);
    b[PCI_CAPABILITY_LIST] = stdOrder[0]!;
    stdOrder.forEach((o, i) => {
      b[o + PCI_CAP_LIST_NEXT] = stdOrder[i + 1] ?? 0;
    });
  }

  const extEncoders = ext.map((c) => extEncoder(c.kind));
  const extItems = ext.map((c, i) => ({
    what: `extended capability "${c.kind}"`,
    offset: c.offset,
    length: extEncoders[i]!.length(c),
  }));
  const extOffsets = placeCapabilities(extItems, PCI_CFG_SPACE_SIZE, size);
  const extOrder = [...extOffsets].sort((x, y) => x - y);
  if (extOrder.length > 0 && extOrder[0] !== PCI_CFG_SPACE_SIZE) {
    invalid(
      "the extended capability list starts at 0x100: one extended capability must be placed there",
    );
  }
  ext.forEach((c, i) => {
    extEncoders[i]!.write(b, extOffsets[i]!, c);
  });
  extOrder.forEach((o, i) => {
    const next = extOrder[i + 1] ?? 0;
    b[o + 2] = (b[o + 2]! & 0x0f) | ((next & 0x0f) << 4);
    b[o + 3] = next >>> 4;
  });
  return { bytes: b, bars, rom };
}

/** Bytes of the MSI-X Pending Bit Array for `vectors`: one bit each, in whole qwords. */
export function msixPbaSize(vectors: number): number {
  return Math.ceil(vectors / 64) * 8;
}
