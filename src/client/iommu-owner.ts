import { VfioError } from "../errors.js";
import { MemlockAccount, type MemlockLimit, PasidAllocator } from "../iommu/index.js";
import { memlockLimit as sysMemlockLimit } from "../sys/index.js";

/** Limits of an IommuOwner: pinned memory, PASID quota and the PASID space. */
export interface IommuOwnerOptions {
  /** Bytes this owner may pin; default RLIMIT_MEMLOCK (soft) of this process. */
  memlockLimit?: MemlockLimit;
  /** PASID quota of this owner; default the allocator's (1000). */
  pasidQuota?: number;
  /** The PASID space to allocate from; default one shared by the whole process. */
  pasids?: PasidAllocator;
  /** Accounting granule; default 4096. */
  pageSize?: bigint;
}

let processPasids: PasidAllocator | undefined;
let processOwner: IommuOwner | undefined;

/** The process-wide PASID space (PASIDs are a global resource, like the kernel's ioasid set). */
export function processPasidAllocator(): PasidAllocator {
  processPasids ??= new PasidAllocator();
  return processPasids;
}

/** RLIMIT_MEMLOCK (soft) as a MemlockLimit. */
export function defaultMemlockLimit(): MemlockLimit {
  const { soft } = sysMemlockLimit();
  return soft === "unlimited" ? "infinity" : soft;
}

/**
 * Who pinned memory and PASIDs are charged to: the analog of the process (its mm) in
 * the kernel. Every container of one owner shares its pinned-page account (locked_vm
 * against RLIMIT_MEMLOCK) and its PASID quota; PASIDs are released when the owner's
 * last container closes, as the kernel releases them with the last reference to the
 * mm's PASID set.
 */
export class IommuOwner {
  readonly account: MemlockAccount;
  readonly pasids: PasidAllocator;
  #containers = 0;

  /** The owner containers use when none is given: this process, limited by RLIMIT_MEMLOCK. */
  static default(): IommuOwner {
    processOwner ??= new IommuOwner();
    return processOwner;
  }

  constructor(options: IommuOwnerOptions = {}) {
    this.account = new MemlockAccount({
      limit: options.memlockLimit ?? defaultMemlockLimit(),
      pageSize: options.pageSize,
    });
    this.pasids = options.pasids ?? processPasidAllocator();
    if (options.pasidQuota !== undefined) this.pasids.setQuota(this, options.pasidQuota);
  }

  get memlockLimit(): MemlockLimit {
    return this.account.limit;
  }

  /** Lowering the limit never unpins; it only refuses later maps (as with setrlimit). */
  set memlockLimit(limit: MemlockLimit) {
    this.account.limit = limit;
  }

  get pinnedBytes(): bigint {
    return this.account.pinnedBytes;
  }

  get pasidQuota(): number {
    return this.pasids.quotaOf(this);
  }

  set pasidQuota(quota: number) {
    this.pasids.setQuota(this, quota);
  }

  /** Number of PASIDs this owner holds. */
  get pasidCount(): number {
    return this.pasids.countOf(this);
  }

  /** This owner's PASIDs, ascending. */
  ownedPasids(): number[] {
    return Array.from(this.pasids.pasids(this));
  }

  /**
   * Allocates the lowest free PASID in [min, max]. EINVAL for a bad range, EDQUOT when
   * the owner is at its quota, ENOSPC when the range has no free PASID.
   */
  allocPasid(min: number, max: number): number {
    return this.pasids.alloc(this, min, max);
  }

  /**
   * Frees this owner's PASIDs in [min, max] (never another owner's) and returns them;
   * [0, 0xFFFFFFFF] frees all of them.
   */
  freePasids(min: number, max: number): number[] {
    return this.pasids.free(this, min, max);
  }

  /** @internal A container of this owner opened. */
  retain(): void {
    this.#containers++;
  }

  /** @internal A container of this owner closed; the last one takes the PASIDs along. */
  releaseContainer(): void {
    if (this.#containers === 0)
      throw new VfioError("EINVAL", "IommuOwner: container count underflow");
    this.#containers--;
    if (this.#containers === 0) this.pasids.releaseOwner(this);
  }
}
