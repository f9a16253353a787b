import { VfioError } from "../errors.js";
import {
  type DmaAccess,
  type DmaPerms,
  type DmaSegment,
  DmaWindow,
  revokeWindow,
} from "./dma-window.js";
import { IntervalMap } from "./interval-map.js";
import { type DmaAccessKind, hex, IommuFaultError } from "./iommu-errors.js";
import {
  FULL_IOVA_RANGE,
  type IovaRange,
  intersectIovaRanges,
  iovaRangesCover,
  normalizeIovaRanges,
  U64_MAX,
} from "./iova-ranges.js";
import { MemlockAccount, type MemlockLimit } from "./memlock-account.js";

/** Default number of simultaneous mappings (kernel dma_entry_limit, vfio-user max_dma_maps). */
export const DEFAULT_MAX_MAPPINGS = 65535;
/** Default page-size bitmap: 4 KiB pages only (the vfio-user default for pgsizes). */
export const DEFAULT_PGSIZES = 0x1000n;

interface DomainCommonOptions {
  /** Supported IOMMU page sizes OR'ed together; the lowest set bit is the map granule. */
  pgsizes?: bigint;
  /** Mappable IOVA ranges (inclusive ends); default the whole 64-bit space. */
  iovaRanges?: readonly IovaRange[];
  /** Maximum simultaneous mappings; default 65535. */
  maxMappings?: number;
  /** Instrumentation: called per key comparison in the window table. */
  onCompare?: () => void;
}

/**
 * Either a memlock limit for an account private to this domain (the caller passes
 * RLIMIT_MEMLOCK from src/sys, or "infinity"), or an account shared with other domains
 * of the same owner, as several containers of one process share mm->locked_vm.
 */
export type IommuDomainOptions = DomainCommonOptions &
  (
    | { memlockLimit: MemlockLimit; account?: undefined }
    | { account: MemlockAccount; memlockLimit?: undefined }
  );

/** What an unmap removed. Await whenAllIdle(windows) before releasing their backing. */
export interface DmaUnmapResult<T> {
  /** Total bytes unmapped (0 when the range held no mapping). */
  readonly size: bigint;
  /** Removed windows in IOVA order; already marked unmapped. */
  readonly windows: readonly DmaWindow<T>[];
}

/** The last fault seen, for diagnostics. */
export interface IommuFaultRecord {
  readonly iova: bigint;
  readonly length: bigint;
  readonly access: DmaAccessKind;
  readonly faultAddress: bigint;
}

/**
 * An IOMMU domain with VFIO type1v2 rules: the DMA window table of a vfio-user server
 * and the container of a driver-side client. Pure state: no I/O, no timers.
 *
 * Map checks run in the kernel's order (vfio_dma_do_map) so the errno for a request
 * that breaks several rules matches what the kernel would report:
 *   no permission, size 0, misalignment, 64-bit wrap -> EINVAL; overlap -> EEXIST;
 *   table full -> ENOSPC; outside the IOVA ranges -> EINVAL; memlock -> ENOMEM.
 * The IOVA range check comes after overlap and count, as in the kernel.
 * A mapping may end exactly at 2^64: like the kernel we reject only iova+size-1 wrapping.
 */
export class IommuDomain<T = unknown> {
  readonly pgsizes: bigint;
  /** Smallest supported page size: every iova and size must be a multiple of it. */
  readonly pageSize: bigint;
  readonly maxMappings: number;
  readonly account: MemlockAccount;
  readonly #map: IntervalMap<DmaWindow<T>>;
  #iovaRanges: readonly IovaRange[];
  #pinnedPages = 0n;
  #faults = 0;
  #lastFault: IommuFaultRecord | undefined;

  constructor(options: IommuDomainOptions) {
    const pgsizes = options.pgsizes ?? DEFAULT_PGSIZES;
    if (typeof pgsizes !== "bigint" || pgsizes <= 0n || pgsizes > U64_MAX) {
      throw new VfioError("EINVAL", `pgsizes must be a non-zero 64-bit bitmap`);
    }
    this.pgsizes = pgsizes;
    this.pageSize = pgsizes & -pgsizes;
    this.#iovaRanges = normalizeIovaRanges(options.iovaRanges ?? FULL_IOVA_RANGE);
    const max = options.maxMappings ?? DEFAULT_MAX_MAPPINGS;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new VfioError("EINVAL", `maxMappings must be a non-negative integer, got ${max}`);
    }
    this.maxMappings = max;
    if (options.account !== undefined) {
      this.account = options.account;
    } else if (options.memlockLimit !== undefined) {
      this.account = new MemlockAccount({ limit: options.memlockLimit });
    } else {
      throw new VfioError("EINVAL", "IommuDomain needs a memlockLimit or a shared account");
    }
    this.#map = new IntervalMap({ onCompare: options.onCompare });
  }

  /** Where mappings may go (inclusive ends); holes are reserved regions. */
  get iovaRanges(): readonly IovaRange[] {
    return this.#iovaRanges;
  }

  /**
   * Narrows the usable IOVA to what `ranges` also allows, as when a device behind a
   * more limited IOMMU joins: EINVAL, and no change, if an existing mapping would
   * fall outside.
   */
  restrictIovaRanges(ranges: readonly IovaRange[]): void {
    const narrowed = intersectIovaRanges(this.#iovaRanges, normalizeIovaRanges(ranges));
    for (const w of this.windows()) {
      if (!iovaRangesCover(narrowed, w.iova, w.iova + w.size - 1n)) {
        throw new VfioError(
          "EINVAL",
          `the mapping ${this.#text(w)} lies outside the IOVA ranges ${narrowed.map((r) => `[${hex(r.start)}, ${hex(r.end)}]`).join(", ")}`,
        );
      }
    }
    this.#iovaRanges = narrowed;
  }

  /** Number of mappings. */
  get count(): number {
    return this.#map.size;
  }

  /** Mappings still available (VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL). */
  get dmaAvail(): number {
    return Math.max(0, this.maxMappings - this.#map.size);
  }

  /** Pages this domain has charged to its memlock account. */
  get pinnedPages(): bigint {
    return this.#pinnedPages;
  }

  get pinnedBytes(): bigint {
    return this.#pinnedPages * this.account.pageSize;
  }

  /** Number of translations refused since creation (IOMMU faults). */
  get faults(): number {
    return this.#faults;
  }

  get lastFault(): IommuFaultRecord | undefined {
    return this.#lastFault;
  }

  /** Maps [iova, iova+size) with `perms`, keeping `value` as the window's payload. */
  map(iova: bigint, size: bigint, perms: DmaPerms, value: T): DmaWindow<T> {
    const what = `DMA map of ${hexOrRaw(size)} bytes at iova ${hexOrRaw(iova)}`;
    if (!perms.read && !perms.write) {
      throw new VfioError("EINVAL", `${what}: neither read nor write permission requested`);
    }
    this.#checkRange(what, iova, size);
    const clash = this.#map.findOverlap(iova, size);
    if (clash !== undefined) {
      const w = clash.value;
      throw new VfioError(
        "EEXIST",
        `${what}: overlaps the mapping [${hex(w.iova)}, ${hex(w.end)})`,
      );
    }
    if (this.#map.size >= this.maxMappings) {
      throw new VfioError(
        "ENOSPC",
        `${what}: the limit of ${this.maxMappings} DMA mappings (max_dma_maps) is reached`,
      );
    }
    if (!iovaRangesCover(this.iovaRanges, iova, iova + size - 1n)) {
      throw new VfioError(
        "EINVAL",
        `${what}: outside the usable IOVA ranges ${this.#rangesText()}`,
      );
    }
    const pages = this.account.pagesFor(size);
    this.account.charge(pages, what);
    const window = new DmaWindow(iova, size, perms, value, pages);
    this.#map.insert(iova, size, window);
    this.#pinnedPages += pages;
    return window;
  }

  /**
   * Unmaps every mapping inside [iova, iova+size). Type1v2 rules: the range may cover
   * several whole mappings but must not split one (EINVAL); a range holding no mapping
   * unmaps nothing and succeeds with size 0, as the kernel's v2 interface does.
   */
  unmap(iova: bigint, size: bigint): DmaUnmapResult<T> {
    const what = `DMA unmap of ${hexOrRaw(size)} bytes at iova ${hexOrRaw(iova)}`;
    this.#checkRange(what, iova, size);
    const end = iova + size;
    const head = this.#map.find(iova);
    if (head !== undefined && head.start !== iova) {
      throw new VfioError("EINVAL", `${what}: would split the mapping ${this.#text(head.value)}`);
    }
    const tail = this.#map.find(end - 1n);
    if (tail !== undefined && tail.end !== end) {
      throw new VfioError("EINVAL", `${what}: would split the mapping ${this.#text(tail.value)}`);
    }
    const windows: DmaWindow<T>[] = [];
    let unmapped = 0n;
    // One lookup per removed window plus one that finds nothing: N+1, like the kernel.
    for (let hit = this.#map.findOverlap(iova, size); hit !== undefined; ) {
      this.#remove(hit.value);
      windows.push(hit.value);
      unmapped += hit.size;
      hit = this.#map.findOverlap(hit.end, end - hit.end);
    }
    return { size: unmapped, windows };
  }

  /**
   * Removes exactly the mapping [iova, iova+size), the vfio-user DMA_UNMAP rule
   * ("must match exactly a previous mapping"). ENOENT when there is no such mapping.
   */
  unmapExact(iova: bigint, size: bigint): DmaWindow<T> {
    const hit = typeof iova === "bigint" ? this.#map.get(iova) : undefined;
    if (hit === undefined || hit.size !== size) {
      throw new VfioError(
        "ENOENT",
        `DMA unmap of ${hexOrRaw(size)} bytes at iova ${hexOrRaw(iova)}: no mapping matches exactly`,
      );
    }
    this.#remove(hit.value);
    return hit.value;
  }

  /** Unmaps everything (VFIO_DMA_UNMAP_FLAG_ALL, or the client going away). */
  unmapAll(): DmaUnmapResult<T> {
    const windows = Array.from(this.#map, (e) => e.value);
    let unmapped = 0n;
    for (const w of windows) {
      w[revokeWindow]();
      unmapped += w.size;
    }
    this.#map.clear();
    this.account.uncharge(this.#pinnedPages);
    this.#pinnedPages = 0n;
    return { size: unmapped, windows };
  }

  /** The window containing iova, if any. */
  find(iova: bigint): DmaWindow<T> | undefined {
    return this.#map.find(iova)?.value;
  }

  /** All windows in IOVA order. Do not map or unmap while iterating. */
  *windows(): IterableIterator<DmaWindow<T>> {
    for (const e of this.#map) yield e.value;
  }

  /** Windows intersecting [iova, iova+size) in IOVA order. */
  *windowsIn(iova: bigint, size: bigint): IterableIterator<DmaWindow<T>> {
    for (const e of this.#map.range(iova, iova + size)) yield e.value;
  }

  /**
   * The IOMMU check for a device access of `length` bytes at `iova`: returns the
   * segments (one per window, in order) covering the range, which may span adjacent
   * windows. Throws IommuFaultError (EFAULT) and counts a fault if any byte is
   * unmapped or its window lacks the permission. EINVAL for a malformed request.
   */
  translate(iova: bigint, length: bigint, access: DmaAccessKind): DmaSegment<T>[] {
    if (typeof iova !== "bigint" || typeof length !== "bigint" || iova < 0n || iova > U64_MAX) {
      throw new VfioError("EINVAL", `DMA ${access}: iova must be a 64-bit bigint`);
    }
    if (length <= 0n) {
      throw new VfioError("EINVAL", `DMA ${access} at iova ${hex(iova)}: length must be positive`);
    }
    if (access !== "read" && access !== "write") {
      throw new VfioError("EINVAL", `DMA access kind must be "read" or "write"`);
    }
    const end = iova + length;
    const segments: DmaSegment<T>[] = [];
    let cursor = iova;
    for (const e of this.#map.range(iova, end)) {
      const w = e.value;
      if (w.iova > cursor) break;
      if (!w.allows(access)) this.#fault(iova, length, access, cursor, "permission");
      // bigint: Math.min does not apply.
      let segEnd = w.end;
      if (end < segEnd) segEnd = end;
      segments.push({ window: w, iova: cursor, offset: cursor - w.iova, length: segEnd - cursor });
      cursor = segEnd;
    }
    if (cursor < end) this.#fault(iova, length, access, cursor, "unmapped");
    return segments;
  }

  /** translate() and pin every window used; release() unpins (idempotent). */
  acquire(iova: bigint, length: bigint, access: DmaAccessKind): DmaAccess<T> {
    const segments = this.translate(iova, length, access);
    for (const s of segments) s.window.pin();
    let released = false;
    return {
      segments,
      release: () => {
        if (released) return;
        released = true;
        for (const s of segments) s.window.unpin();
      },
    };
  }

  #remove(w: DmaWindow<T>): void {
    this.#map.remove(w.iova);
    w[revokeWindow]();
    this.account.uncharge(w.pages);
    this.#pinnedPages -= w.pages;
  }

  #fault(
    iova: bigint,
    length: bigint,
    access: DmaAccessKind,
    at: bigint,
    reason: "unmapped" | "permission",
  ): never {
    this.#faults++;
    this.#lastFault = { iova, length, access, faultAddress: at };
    throw new IommuFaultError(iova, length, access, at, reason);
  }

  /** Shared map/unmap argument rules: 64-bit values, size > 0, aligned, no wrap. */
  #checkRange(what: string, iova: bigint, size: bigint): void {
    if (typeof iova !== "bigint" || typeof size !== "bigint") {
      throw new VfioError("EINVAL", `${what}: iova and size must be bigints`);
    }
    if (iova < 0n || iova > U64_MAX || size < 0n || size > U64_MAX) {
      throw new VfioError("EINVAL", `${what}: iova and size must be 64-bit unsigned values`);
    }
    if (size === 0n) throw new VfioError("EINVAL", `${what}: size is zero`);
    const mask = this.pageSize - 1n;
    if ((iova & mask) !== 0n || (size & mask) !== 0n) {
      throw new VfioError(
        "EINVAL",
        `${what}: iova and size must be multiples of the ${hex(this.pageSize)}-byte page size`,
      );
    }
    if (iova + size - 1n > U64_MAX) {
      throw new VfioError("EINVAL", `${what}: range wraps past the end of the 64-bit IOVA space`);
    }
  }

  #text(w: DmaWindow<T>): string {
    return `[${hex(w.iova)}, ${hex(w.end)})`;
  }

  #rangesText(): string {
    return this.iovaRanges.map((r) => `[${hex(r.start)}, ${hex(r.end)}]`).join(", ");
  }
}

function hexOrRaw(v: unknown): string {
  return typeof v === "bigint" && v >= 0n ? hex(v) : String(v);
}
