import { VFIO_REGION_INFO_CAP_SPARSE_MMAP, VFIO_REGION_INFO_CAP_TYPE } from "../constants.js";
import { Reader } from "../reader.js";
import { checkBytes, checkUint, type Writer } from "../writer.js";

/** struct vfio_info_cap_header: 0 id u16 | 2 version u16 | 4 next u32. */
export const CAP_HEADER_SIZE = 8;

/** One mmappable part of a region (the sparse mmap capability). */
export interface SparseMmapArea {
  /** Offset within the region (added to the region's mmap offset). */
  offset: bigint;
  size: bigint;
}

/**
 * A region capability. The two the spec describes are decoded (version 1 only, as in
 * linux/vfio.h); anything else, including other versions of those, is kept as raw bytes
 * so a client can still walk past it and a server can pass it through.
 */
export type RegionCap =
  | {
      /** VFIO_REGION_INFO_CAP_SPARSE_MMAP: the parts of the region that may be mmapped. */
      kind: "sparse-mmap";
      areas: SparseMmapArea[];
    }
  | {
      /** VFIO_REGION_INFO_CAP_TYPE: a device-specific region's type/subtype. */
      kind: "type";
      type: number;
      subtype: number;
    }
  | { kind: "raw"; id: number; version: number; data: Uint8Array };

function bodySize(c: RegionCap): number {
  switch (c.kind) {
    case "sparse-mmap":
      return 8 + 16 * c.areas.length;
    case "type":
      return 8;
    case "raw":
      return checkBytes(c.data, "capability data").byteLength;
    default:
      return checkUint(undefined, 0, "capability kind");
  }
}

/** Bytes the capabilities take when laid out back to back. */
export function capsSize(caps: readonly RegionCap[]): number {
  let n = 0;
  for (const c of caps) n += CAP_HEADER_SIZE + bodySize(c);
  return n;
}

/** Write `caps` back to back; `base` is the offset of the first one within the body. */
export function writeCaps(w: Writer, caps: readonly RegionCap[], base: number): void {
  let off = base;
  caps.forEach((c, i) => {
    const size = CAP_HEADER_SIZE + bodySize(c);
    const next = i === caps.length - 1 ? 0 : off + size;
    switch (c.kind) {
      case "sparse-mmap":
        w.u16(VFIO_REGION_INFO_CAP_SPARSE_MMAP, "cap id");
        w.u16(1, "cap version");
        w.u32(next, "cap next");
        w.u32(c.areas.length, "nr_areas");
        w.zeros(4, "reserved");
        for (const a of c.areas) {
          w.u64(a.offset, "area offset");
          w.u64(a.size, "area size");
        }
        break;
      case "type":
        w.u16(VFIO_REGION_INFO_CAP_TYPE, "cap id");
        w.u16(1, "cap version");
        w.u32(next, "cap next");
        w.u32(c.type, "type");
        w.u32(c.subtype, "subtype");
        break;
      case "raw":
        w.u16(c.id, "cap id");
        w.u16(c.version, "cap version");
        w.u32(next, "cap next");
        w.bytes(c.data, "cap data");
        break;
    }
    off += size;
  });
}

function readCap(id: number, version: number, body: Uint8Array, what: string): RegionCap {
  const r = new Reader(body, `${what} capability ${id}`);
  if (id === VFIO_REGION_INFO_CAP_SPARSE_MMAP && version === 1) {
    const nr = r.u32("nr_areas");
    r.skip(4, "reserved");
    if (nr > Math.floor(r.remaining / 16)) {
      r.fail(`nr_areas ${nr} needs ${nr * 16} bytes, the capability has ${r.remaining}`);
    }
    const areas: SparseMmapArea[] = [];
    for (let i = 0; i < nr; i++) areas.push({ offset: r.u64("offset"), size: r.u64("size") });
    return { kind: "sparse-mmap", areas };
  }
  if (id === VFIO_REGION_INFO_CAP_TYPE && version === 1) {
    return { kind: "type", type: r.u32("type"), subtype: r.u32("subtype") };
  }
  return { kind: "raw", id, version, data: body };
}

/**
 * Walk a capability chain inside `r`'s body. Offsets are relative to the body start.
 * Each header must lie inside [minStart, end) and every `next` must point at least one
 * header past the current one, so the walk is strictly forward: no cycles, and at most
 * end/8 steps. A capability extends to its `next` (or to `end` for the last one).
 */
export function readCaps(r: Reader, first: number, minStart: number, end: number): RegionCap[] {
  const caps: RegionCap[] = [];
  let off = first;
  let lowest = minStart;
  while (off !== 0) {
    if (off < lowest) r.fail(`capability at ${off} overlaps data before ${lowest}`);
    if (off + CAP_HEADER_SIZE > end) r.fail(`capability header at ${off} runs past ${end}`);
    r.seek(off, "capability offset");
    const id = r.u16("cap id");
    const version = r.u16("cap version");
    const next = r.u32("cap next");
    if (next !== 0 && (next < off + CAP_HEADER_SIZE || next + CAP_HEADER_SIZE > end)) {
      r.fail(`capability at ${off} has next ${next} outside (${off + 7}, ${end - 8}]`);
    }
    const stop = next === 0 ? end : next;
    caps.push(readCap(id, version, r.buf.subarray(off + CAP_HEADER_SIZE, stop), r.what));
    lowest = off + CAP_HEADER_SIZE;
    off = next;
  }
  r.seek(end, "end of capabilities");
  return caps;
}
