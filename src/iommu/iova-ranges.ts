import { VfioError } from "../errors.js";
import { hex } from "./iommu-errors.js";

/** Largest 64-bit IOVA. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * A usable IOVA range with an inclusive end, as in the kernel's struct vfio_iova_range
 * (reported through VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE). Holes between ranges are
 * reserved regions (MSI windows, host bridge apertures) that may never be mapped.
 */
export interface IovaRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** The default: the whole 64-bit space with nothing reserved. */
export const FULL_IOVA_RANGE: readonly IovaRange[] = Object.freeze([
  Object.freeze({ start: 0n, end: U64_MAX }),
]);

/**
 * Validates and sorts a range list. Ranges must lie in the 64-bit space, have
 * start <= end, and not overlap; adjacent ranges are merged so that a mapping spanning
 * their boundary is accepted (there is no hole between them).
 */
export function normalizeIovaRanges(ranges: readonly IovaRange[]): readonly IovaRange[] {
  if (ranges.length === 0) throw new VfioError("EINVAL", "IOVA range list must not be empty");
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: IovaRange[] = [];
  for (const r of sorted) {
    if (typeof r.start !== "bigint" || typeof r.end !== "bigint") {
      throw new VfioError("EINVAL", "IOVA range bounds must be bigints");
    }
    if (r.start < 0n || r.end > U64_MAX || r.start > r.end) {
      throw new VfioError("EINVAL", `invalid IOVA range [${hex(r.start)}, ${hex(r.end)}]`);
    }
    const prev = out[out.length - 1];
    if (prev !== undefined && r.start <= prev.end) {
      throw new VfioError(
        "EINVAL",
        `IOVA ranges [${hex(prev.start)}, ${hex(prev.end)}] and [${hex(r.start)}, ${hex(r.end)}] overlap`,
      );
    }
    if (prev !== undefined && r.start === prev.end + 1n) {
      out[out.length - 1] = Object.freeze({ start: prev.start, end: r.end });
    } else {
      out.push(Object.freeze({ start: r.start, end: r.end }));
    }
  }
  return Object.freeze(out);
}

/** Whether [first, last] (inclusive) lies inside one range of a normalized list. */
export function iovaRangesCover(
  ranges: readonly IovaRange[],
  first: bigint,
  last: bigint,
): boolean {
  // Binary search for the last range starting at or before `first`.
  let lo = 0;
  let hi = ranges.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.start <= first) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found >= 0 && last <= ranges[found]!.end;
}

/**
 * The IOVA both lists can map (both normalized); EINVAL when they share none. A
 * container whose devices sit behind different IOMMUs may use only this.
 */
export function intersectIovaRanges(
  a: readonly IovaRange[],
  b: readonly IovaRange[],
): readonly IovaRange[] {
  const out: IovaRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    // biome-ignore lint/complexity/useMathMinMax: Math.max does not take bigints
    const start = x.start > y.start ? x.start : y.start;
    // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints
    const end = x.end < y.end ? x.end : y.end;
    if (start <= end) out.push({ start, end });
    if (x.end < y.end) i++;
    else j++;
  }
  if (out.length === 0) throw new VfioError("EINVAL", "the IOVA ranges have nothing in common");
  return normalizeIovaRanges(out);
}
