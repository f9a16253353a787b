import type { RegionInfoReply } from "../protocol/index.js";
import { VFIO_REGION_INFO_FLAG_MMAP } from "../protocol/index.js";
import type { MmapArea, RegionInfo } from "./backend.js";

/**
 * A decoded REGION_INFO reply as the backend-neutral RegionInfo: the sparse-mmap
 * capability (if any) becomes `mmapAreas`, a mappable region without it is one area
 * covering it all, and a region that came without an fd has no areas (it can still be
 * read and written through messages). Bounds are checked by DeviceHandle.
 */
export function toRegionInfo(reply: RegionInfoReply, fd: number): RegionInfo {
  const sparse = reply.caps.find((c) => c.kind === "sparse-mmap");
  const mappable = (reply.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0 && fd >= 0;
  let mmapAreas: MmapArea[] = [];
  if (mappable) {
    mmapAreas =
      sparse !== undefined
        ? sparse.areas.map((a) => ({ offset: a.offset, size: a.size }))
        : reply.size > 0n
          ? [{ offset: 0n, size: reply.size }]
          : [];
  }
  return {
    index: reply.index,
    flags: reply.flags,
    size: reply.size,
    offset: reply.offset,
    mmapAreas,
    caps: reply.caps.filter((c) => c.kind !== "sparse-mmap"),
    fd,
  };
}
