import { VfioError } from "../errors.js";
import type { IommuDomain } from "../iommu/index.js";

const IOVA_END = 1n << 64n;

/**
 * The lowest page-aligned IOVA where `size` bytes fit between the domain's mappings,
 * inside its usable ranges and below `limit` (for devices that address less than 64
 * bits). Page 0 is never handed out so a zero IOVA in a descriptor faults instead of
 * hitting a buffer. Walks the windows in order (first fit): it is the convenience path
 * of allocateBuffer(); drivers that manage their own IOVA space pass one explicitly,
 * as with VFIO_IOMMU_MAP_DMA.
 */
export function lowestFreeIova(
  domain: IommuDomain<unknown>,
  size: bigint,
  limit: bigint = IOVA_END,
): bigint {
  const page = domain.pageSize;
  const up = (v: bigint) => ((v + page - 1n) / page) * page;
  for (const r of domain.iovaRanges) {
    const last = r.end < limit - 1n ? r.end : limit - 1n;
    let cursor = up(r.start);
    if (cursor < page) cursor = page;
    if (cursor > last) continue;
    for (const w of domain.windowsIn(cursor, last + 1n - cursor)) {
      if (w.iova >= cursor + size) break;
      if (w.end > cursor) cursor = up(w.end);
    }
    if (cursor + size - 1n <= last) return cursor;
  }
  const below = limit < IOVA_END ? ` below 0x${limit.toString(16)}` : "";
  throw new VfioError(
    "ENOSPC",
    `no free IOVA range of 0x${size.toString(16)} bytes in the container${below}`,
  );
}
