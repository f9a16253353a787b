import { VfioError } from "../../errors.js";
import type { MmapArea } from "../device.js";
import { PAGE_SIZE } from "./shared-memory.js";

/**
 * The areas of an mmap-backed BAR offered to the client, or undefined when the whole
 * BAR is. MSI-X tables and PBAs must stay trapped: with `true` their pages are cut out
 * (vfio-pci does the same); an explicit list that touches those pages is an error,
 * as is any area that is not page aligned, empty, outside the BAR or overlapping
 * another.
 */
export function mmapAreas(
  what: string,
  barSize: number,
  request: true | readonly MmapArea[],
  trapped: readonly MmapArea[],
): MmapArea[] | undefined {
  if (barSize < PAGE_SIZE) {
    throw new VfioError(
      "EINVAL",
      `${what}: a BAR of ${barSize} bytes is smaller than a page and cannot be mmapped`,
    );
  }
  const holes = trapped
    .map((t) => ({
      start: Math.floor(t.offset / PAGE_SIZE) * PAGE_SIZE,
      end: Math.ceil((t.offset + t.size) / PAGE_SIZE) * PAGE_SIZE,
    }))
    .sort((a, b) => a.start - b.start);
  if (request === true) {
    if (holes.length === 0) return undefined;
    const out: MmapArea[] = [];
    let at = 0;
    for (const h of holes) {
      if (h.start > at) out.push({ offset: at, size: h.start - at });
      at = Math.max(at, h.end);
    }
    if (at < barSize) out.push({ offset: at, size: barSize - at });
    return out;
  }
  const areas = [...request].sort((a, b) => a.offset - b.offset);
  let prevEnd = 0;
  for (const a of areas) {
    const where = `${what}: mmap area [0x${a.offset.toString(16)}, +0x${a.size.toString(16)})`;
    if (
      !Number.isSafeInteger(a.offset) ||
      !Number.isSafeInteger(a.size) ||
      a.offset < 0 ||
      a.size <= 0
    ) {
      throw new VfioError("EINVAL", `${where} needs a non-negative offset and a positive size`);
    }
    if (a.offset % PAGE_SIZE !== 0 || a.size % PAGE_SIZE !== 0) {
      throw new VfioError("EINVAL", `${where} is not page aligned (${PAGE_SIZE} bytes)`);
    }
    if (a.offset + a.size > barSize) {
      throw new VfioError("EINVAL", `${where} runs past the BAR's ${barSize} bytes`);
    }
    if (a.offset < prevEnd) throw new VfioError("EINVAL", `${where} overlaps the previous area`);
    if (holes.some((h) => a.offset < h.end && h.start < a.offset + a.size)) {
      throw new VfioError(
        "EINVAL",
        `${where} covers the MSI-X table or PBA, which must stay trapped`,
      );
    }
    prevEnd = a.offset + a.size;
  }
  return areas;
}
