/**
 * Decoders of the Identify data structures (base spec 2.0, figures 275-277; NVM
 * command set spec figure 97) and the active namespace ID list. Each takes the 4 KiB
 * the controller wrote and never throws on its content: a controller is not trusted,
 * so odd values are reported as they are, and the driver checks what it relies on.
 */

/** Identify Controller (CNS 01h), the fields this driver and its users need. */
export interface IdentifyController {
  readonly vendorId: number;
  readonly subsystemVendorId: number;
  /** Serial number, model and firmware revision: ASCII, trailing spaces removed. */
  readonly serial: string;
  readonly model: string;
  readonly firmware: string;
  readonly ieeeOui: number;
  /** Maximum data transfer size as a power of two of the minimum page size; 0: no limit. */
  readonly mdts: number;
  readonly controllerId: number;
  /** VER, as the VS register encodes it (0 before NVMe 1.2). */
  readonly version: number;
  readonly oacs: number;
  /** Abort command limit, 1-based. */
  readonly abortLimit: number;
  readonly asyncEventLimit: number;
  readonly logPageAttributes: number;
  /** Required and maximum entry sizes, as log2 bytes. */
  readonly sqesMin: number;
  readonly sqesMax: number;
  readonly cqesMin: number;
  readonly cqesMax: number;
  readonly maxCommands: number;
  /** Number of namespaces: the highest valid NSID. */
  readonly namespaces: number;
  /** Optional NVM commands: bit 2 Dataset Management, bit 3 Write Zeroes, ... */
  readonly oncs: number;
  readonly volatileWriteCache: boolean;
  readonly sgls: number;
  readonly subsystemNqn: string;
}

/** ONCS bits. */
export const ONCS_COMPARE = 1 << 0;
export const ONCS_WRITE_UNCORRECTABLE = 1 << 1;
export const ONCS_DSM = 1 << 2;
export const ONCS_WRITE_ZEROES = 1 << 3;

export function decodeIdentifyController(data: Uint8Array): IdentifyController {
  const v = view(data, 4096);
  return {
    vendorId: v.getUint16(0, true),
    subsystemVendorId: v.getUint16(2, true),
    serial: ascii(data, 4, 20),
    model: ascii(data, 24, 40),
    firmware: ascii(data, 64, 8),
    ieeeOui: data[73]! | (data[74]! << 8) | (data[75]! << 16),
    mdts: data[77]!,
    controllerId: v.getUint16(78, true),
    version: v.getUint32(80, true),
    oacs: v.getUint16(256, true),
    abortLimit: data[258]! + 1,
    asyncEventLimit: data[259]! + 1,
    logPageAttributes: data[261]!,
    sqesMin: data[512]! & 0xf,
    sqesMax: data[512]! >>> 4,
    cqesMin: data[513]! & 0xf,
    cqesMax: data[513]! >>> 4,
    maxCommands: v.getUint16(514, true),
    namespaces: v.getUint32(516, true),
    oncs: v.getUint16(520, true),
    volatileWriteCache: (data[525]! & 1) !== 0,
    sgls: v.getUint32(536, true),
    subsystemNqn: ascii(data, 768, 256, true),
  };
}

/** One LBA format of a namespace. */
export interface LbaFormat {
  /** Metadata bytes per block. */
  readonly metadataSize: number;
  /** Data bytes per block, as log2 (LBADS). */
  readonly lbaDataShift: number;
  /** Relative performance, 0 best. */
  readonly relativePerformance: number;
}

/** Identify Namespace (CNS 00h), NVM command set. */
export interface IdentifyNamespace {
  /** Size, capacity and utilization, in logical blocks. */
  readonly size: bigint;
  readonly capacity: bigint;
  readonly utilization: bigint;
  readonly features: number;
  /** LBA formats the namespace supports (NLBAF + 1 of them). */
  readonly lbaFormats: readonly LbaFormat[];
  /** Index of the format in use (FLBAS). */
  readonly formatIndex: number;
  /** Metadata at the end of each block (extended LBA) rather than in a separate buffer. */
  readonly extendedMetadata: boolean;
  /** DLFEAT: bits 2:0 say what a deallocated block reads as (1: zeroes, 2: ones). */
  readonly deallocateFeatures: number;
  readonly nguid: Uint8Array;
  readonly eui64: Uint8Array;
  /** Bytes per logical block of the format in use (0 if that format is not described). */
  readonly blockSize: number;
}

export function decodeIdentifyNamespace(data: Uint8Array): IdentifyNamespace {
  const v = view(data, 4096);
  const nlbaf = data[25]!;
  const flbas = data[26]!;
  const lbaFormats: LbaFormat[] = [];
  // NLBAF is 0's based; at most 64 formats exist (NVMe 2.0), and the structure holds 64.
  for (let i = 0; i <= Math.min(nlbaf, 63); i++) {
    const f = v.getUint32(128 + 4 * i, true);
    lbaFormats.push({
      metadataSize: f & 0xffff,
      lbaDataShift: (f >>> 16) & 0xff,
      relativePerformance: (f >>> 24) & 0x3,
    });
  }
  // FLBAS bits 3:0, and (NVMe 2.0, more than 16 formats) bits 6:5 above them.
  const formatIndex = (flbas & 0xf) | (nlbaf >= 16 ? ((flbas >>> 5) & 0x3) << 4 : 0);
  const shift = lbaFormats[formatIndex]?.lbaDataShift ?? 0;
  return {
    size: v.getBigUint64(0, true),
    capacity: v.getBigUint64(8, true),
    utilization: v.getBigUint64(16, true),
    features: data[24]!,
    lbaFormats,
    formatIndex,
    extendedMetadata: (flbas & 0x10) !== 0,
    deallocateFeatures: data[33]!,
    nguid: data.slice(104, 120),
    eui64: data.slice(120, 128),
    blockSize: shift >= 9 && shift < 32 ? 2 ** shift : 0,
  };
}

/** The active namespace ID list (CNS 02h): ascending NSIDs, ended by the first 0. */
export function decodeNamespaceList(data: Uint8Array): number[] {
  const v = view(data, 4096);
  const out: number[] = [];
  for (let i = 0; i < 1024; i++) {
    const nsid = v.getUint32(4 * i, true);
    if (nsid === 0) break;
    out.push(nsid);
  }
  return out;
}

function view(data: Uint8Array, size: number): DataView {
  if (data.byteLength < size) {
    throw new RangeError(`identify data must be ${size} bytes, got ${data.byteLength}`);
  }
  return new DataView(data.buffer, data.byteOffset, size);
}

/** ASCII field: printable bytes kept, others shown as '?', trailing spaces/NULs removed. */
function ascii(data: Uint8Array, offset: number, length: number, nulTerminated = false): string {
  let s = "";
  for (let i = offset; i < offset + length; i++) {
    const c = data[i]!;
    if (nulTerminated && c === 0) break;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0 ? " " : "?";
  }
  return s.replace(/[ ]+$/, "");
}
