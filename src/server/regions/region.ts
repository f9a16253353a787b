import type { MmapArea } from "../device.js";

/** Region capabilities a REGION_INFO reply may carry. */
export interface RegionTypeCap {
  readonly type: number;
  readonly subtype: number;
}

/** How a region is offered for mmap: the fd, and the areas (absent = the whole region). */
export interface RegionMmap {
  readonly fd: number;
  readonly sparse: readonly MmapArea[] | undefined;
}

/**
 * One VFIO region as the server serves it. Absent regions (unimplemented BARs, no ROM,
 * no VGA) have size 0 and no access. Offsets are numbers: regions are capped below 2^52.
 * `read`/`write` receive accesses already checked against the size and flags; they
 * apply the MMIO gate themselves, since what is gated depends on the offset. They
 * answer synchronously (a refused access throws) unless a device handler returned a
 * promise: only then do they return one, so the server can reply in the same tick.
 */
export interface Region {
  readonly index: number;
  readonly name: string;
  readonly size: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly mmap: RegionMmap | undefined;
  readonly typeCap: RegionTypeCap | undefined;
  read(offset: number, size: number): Promise<Uint8Array> | Uint8Array;
  write(offset: number, data: Uint8Array): Promise<void> | void;
}

/** Largest region we accept: offsets stay exact as numbers. */
export const MAX_REGION_SIZE = 2 ** 52;

export function absentRegion(index: number, name: string): Region {
  return {
    index,
    name,
    size: 0,
    readable: false,
    writable: false,
    mmap: undefined,
    typeCap: undefined,
    read: () => new Uint8Array(0),
    write: () => {},
  };
}
