import { VfioError } from "../errors.js";
import { IntervalMap } from "./interval-map.js";
import { EDQUOT, hex } from "./iommu-errors.js";

/** PCIe PASIDs are 20 bits wide. */
export const DEFAULT_MAX_PASID = 0xfffff;
/** Default per-owner quota (the vfio_pasid module's pasid_quota default). */
export const DEFAULT_PASID_QUOTA = 1000;
/** Largest value a request's min/max may carry (the uAPI fields are u32). */
const U32_MAX = 0xffff_ffff;

/**
 * Who PASIDs are charged to: one process/user in the kernel (its mm). All containers
 * of one owner share its quota. Any value usable as a Map key works; objects compare
 * by identity.
 */
export type PasidOwner = object | string | number | symbol;

/** The PASID range, default quota and instrumentation of a PasidAllocator. */
export interface PasidAllocatorOptions {
  /** Largest allocatable PASID; default 0xFFFFF (20 bits). */
  maxPasid?: number;
  /** Default per-owner quota; default 1000. */
  quota?: number;
  /** Instrumentation: called once per ordered lookup in an owner's PASID set. */
  onLookup?: () => void;
}

interface OwnerState {
  /** The owner's PASIDs as unit intervals, so range frees are successor lookups. */
  readonly ids: IntervalMap<true>;
  quota: number;
}

/**
 * Global PASID space shared by all owners, with per-owner quotas.
 *
 * Allocation finds the lowest free id in [min, max] with one lookup in a set of free
 * runs (no scan over ids). Freeing a range walks only the owner's own ids with
 * successor lookups: N+1 lookups for N ids freed, so [0, 0xFFFFFFFF] is as cheap as
 * the owner's allocation count, and nobody can free another owner's PASID.
 *
 * Quota exhaustion fails with EDQUOT (122) rather than the ENOSPC of an exhausted
 * range, so a caller can tell "you have too many" from "none are left".
 */
export class PasidAllocator {
  readonly maxPasid: number;
  readonly defaultQuota: number;
  /** Free runs of the global space, coalesced. */
  readonly #free = new IntervalMap<true>();
  readonly #owners = new Map<PasidOwner, OwnerState>();
  readonly #ownerOf = new Map<number, PasidOwner>();
  readonly #onLookup: (() => void) | undefined;
  #lookups = 0;

  constructor(options: PasidAllocatorOptions = {}) {
    const maxPasid = options.maxPasid ?? DEFAULT_MAX_PASID;
    if (!Number.isInteger(maxPasid) || maxPasid < 0 || maxPasid > U32_MAX) {
      throw new VfioError("EINVAL", `maxPasid must be an integer in [0, ${hex(U32_MAX)}]`);
    }
    this.maxPasid = maxPasid;
    this.defaultQuota = checkQuota(options.quota ?? DEFAULT_PASID_QUOTA);
    this.#onLookup = options.onLookup;
    this.#free.insert(0n, BigInt(maxPasid) + 1n, true);
  }

  /** Ordered lookups made in owners' sets by free()/releaseOwner() since creation. */
  get lookups(): number {
    return this.#lookups;
  }

  /** PASIDs allocated across all owners. */
  get allocated(): number {
    return this.#ownerOf.size;
  }

  /** Sets one owner's quota; existing allocations above it are kept, new ones refused. */
  setQuota(owner: PasidOwner, quota: number): void {
    this.#state(owner).quota = checkQuota(quota);
  }

  /** The quota of `owner`: its own if set, otherwise the default. */
  quotaOf(owner: PasidOwner): number {
    return this.#owners.get(owner)?.quota ?? this.defaultQuota;
  }

  /** Number of PASIDs the owner holds. */
  countOf(owner: PasidOwner): number {
    return this.#owners.get(owner)?.ids.size ?? 0;
  }

  /** Whether `owner` holds `pasid`. */
  owns(owner: PasidOwner, pasid: number): boolean {
    return this.#ownerOf.get(pasid) === owner;
  }

  /** Who holds `pasid`, if anyone. */
  ownerOf(pasid: number): PasidOwner | undefined {
    return this.#ownerOf.get(pasid);
  }

  /** The owner's PASIDs in ascending order. */
  *pasids(owner: PasidOwner): IterableIterator<number> {
    const st = this.#owners.get(owner);
    if (st === undefined) return;
    for (const e of st.ids) yield Number(e.start);
  }

  /**
   * Allocates the lowest free PASID in [min, max] (clamped to maxPasid) for `owner`.
   * EINVAL for a malformed range, EDQUOT when the owner is at its quota, ENOSPC when
   * no id in the range is free.
   */
  alloc(owner: PasidOwner, min: number, max: number): number {
    checkRange("PASID alloc", min, max);
    const st = this.#owners.get(owner);
    const quota = st?.quota ?? this.defaultQuota;
    const held = st?.ids.size ?? 0;
    if (held >= quota) {
      throw new VfioError(
        EDQUOT,
        `PASID alloc in [${hex(min)}, ${hex(max)}]: owner holds ${held} PASIDs, its quota is ${quota}`,
      );
    }
    const hi = Math.min(max, this.maxPasid);
    const run = min <= hi ? this.#free.findOverlap(BigInt(min), BigInt(hi - min + 1)) : undefined;
    if (run === undefined) {
      throw new VfioError(
        "ENOSPC",
        `PASID alloc: no free PASID in [${hex(min)}, ${hex(max)}] (PASID space ends at ${hex(this.maxPasid)})`,
      );
    }
    const id = run.start > BigInt(min) ? run.start : BigInt(min);
    this.#free.remove(run.start);
    if (run.start < id) this.#free.insert(run.start, id - run.start, true);
    if (id + 1n < run.end) this.#free.insert(id + 1n, run.end - id - 1n, true);
    const state = st ?? this.#state(owner);
    state.ids.insert(id, 1n, true);
    const pasid = Number(id);
    this.#ownerOf.set(pasid, owner);
    return pasid;
  }

  /**
   * Frees the owner's PASIDs in [min, max] and returns them in ascending order. Ids in
   * the range held by other owners, or free, are left alone. Not an error if none match.
   */
  free(owner: PasidOwner, min: number, max: number): number[] {
    checkRange("PASID free", min, max);
    const st = this.#owners.get(owner);
    const freed: number[] = [];
    if (st === undefined) return freed;
    const end = BigInt(max) + 1n;
    let cursor = BigInt(min);
    while (cursor < end) {
      this.#lookups++;
      this.#onLookup?.();
      const hit = st.ids.findOverlap(cursor, end - cursor);
      if (hit === undefined) break;
      st.ids.remove(hit.start);
      this.#release(hit.start);
      freed.push(Number(hit.start));
      cursor = hit.end;
    }
    if (st.ids.size === 0 && st.quota === this.defaultQuota) this.#owners.delete(owner);
    return freed;
  }

  /** Frees everything the owner holds (process exit / last container closed). */
  releaseOwner(owner: PasidOwner): number[] {
    const freed = this.free(owner, 0, U32_MAX);
    this.#owners.delete(owner);
    return freed;
  }

  #state(owner: PasidOwner): OwnerState {
    let st = this.#owners.get(owner);
    if (st === undefined) {
      st = { ids: new IntervalMap<true>(), quota: this.defaultQuota };
      this.#owners.set(owner, st);
    }
    return st;
  }

  /** Returns one id to the free set, coalescing with the runs on either side. */
  #release(id: bigint): void {
    this.#ownerOf.delete(Number(id));
    let start = id;
    let end = id + 1n;
    const before = id > 0n ? this.#free.find(id - 1n) : undefined;
    if (before !== undefined) {
      start = before.start;
      this.#free.remove(before.start);
    }
    const after = this.#free.get(id + 1n);
    if (after !== undefined) {
      end = after.end;
      this.#free.remove(after.start);
    }
    this.#free.insert(start, end - start, true);
  }
}

function checkRange(what: string, min: number, max: number): void {
  const ok = (v: number) => Number.isInteger(v) && v >= 0 && v <= U32_MAX;
  if (!ok(min) || !ok(max)) {
    throw new VfioError("EINVAL", `${what}: min and max must be integers in [0, ${hex(U32_MAX)}]`);
  }
  if (min > max) throw new VfioError("EINVAL", `${what}: min ${hex(min)} > max ${hex(max)}`);
}

function checkQuota(quota: number): number {
  if (!Number.isInteger(quota) || quota < 0) {
    throw new VfioError("EINVAL", `PASID quota must be a non-negative integer, got ${quota}`);
  }
  return quota;
}
