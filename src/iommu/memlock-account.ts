import { VfioError } from "../errors.js";
import { hex } from "./iommu-errors.js";

/** A memlock limit in bytes, or no limit at all (RLIM_INFINITY / CAP_IPC_LOCK). */
export type MemlockLimit = bigint | "infinity";

/** The limit and granule of a MemlockAccount. */
export interface MemlockAccountOptions {
  /** Limit in bytes; the caller passes RLIMIT_MEMLOCK (from src/sys) or "infinity". */
  limit: MemlockLimit;
  /** Accounting granule in bytes (the host page size); power of two, default 4096. */
  pageSize?: bigint;
}

/**
 * Pinned-page accounting against a memlock limit: the analog of mm->locked_vm checked
 * against RLIMIT_MEMLOCK. Like the kernel, the unit is the page and the limit is
 * rounded down to whole pages. One account can be shared by several domains to model
 * one process owning several containers; by default each domain gets its own.
 */
export class MemlockAccount {
  readonly pageSize: bigint;
  #limit: MemlockLimit;
  #pinned = 0n;

  constructor(options: MemlockAccountOptions) {
    const pageSize = options.pageSize ?? 4096n;
    if (pageSize <= 0n || (pageSize & (pageSize - 1n)) !== 0n) {
      throw new VfioError("EINVAL", `memlock page size must be a power of two, got ${pageSize}`);
    }
    this.pageSize = pageSize;
    this.#limit = checkLimit(options.limit);
  }

  get limit(): MemlockLimit {
    return this.#limit;
  }

  /** Changing the limit never unpins anything; it only affects later charges. */
  set limit(limit: MemlockLimit) {
    this.#limit = checkLimit(limit);
  }

  /** Pages currently charged. */
  get pinnedPages(): bigint {
    return this.#pinned;
  }

  get pinnedBytes(): bigint {
    return this.#pinned * this.pageSize;
  }

  /** Pages needed to pin `bytes` (a partial page costs a whole one). */
  pagesFor(bytes: bigint): bigint {
    return (bytes + this.pageSize - 1n) / this.pageSize;
  }

  /** Whether `pages` more would still fit under the limit. */
  fits(pages: bigint): boolean {
    if (this.#limit === "infinity") return true;
    return this.#pinned + pages <= this.#limit / this.pageSize;
  }

  /**
   * Charges `pages`, or throws ENOMEM naming the limit and the amount requested.
   * `what` describes the request for the message (e.g. the DMA map being made).
   */
  charge(pages: bigint, what = "pin request"): void {
    if (pages < 0n) throw new VfioError("EINVAL", `cannot charge ${pages} pages`);
    if (!this.fits(pages)) {
      const limit = this.#limit as bigint;
      throw new VfioError(
        "ENOMEM",
        `${what}: pinning ${pages} pages (${hex(pages * this.pageSize)} bytes) on top of ` +
          `${this.#pinned} already pinned exceeds the memlock limit (RLIMIT_MEMLOCK) of ` +
          `${limit} bytes (${limit / this.pageSize} pages)`,
      );
    }
    this.#pinned += pages;
  }

  /** Returns pages to the account; uncharging more than is charged is a bug (EINVAL). */
  uncharge(pages: bigint): void {
    if (pages < 0n || pages > this.#pinned) {
      throw new VfioError("EINVAL", `cannot uncharge ${pages} pages, ${this.#pinned} charged`);
    }
    this.#pinned -= pages;
  }
}

function checkLimit(limit: MemlockLimit): MemlockLimit {
  if (limit !== "infinity" && (typeof limit !== "bigint" || limit < 0n)) {
    throw new VfioError("EINVAL", `memlock limit must be a non-negative bigint or "infinity"`);
  }
  return limit;
}
