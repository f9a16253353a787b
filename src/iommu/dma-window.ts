import { VfioError } from "../errors.js";
import { type DmaAccessKind, hex } from "./iommu-errors.js";

/** Which device accesses a window allows (VFIO_DMA_MAP_FLAG_READ / _WRITE). */
export interface DmaPerms {
  readonly read: boolean;
  readonly write: boolean;
}

/** Domain-private: marks a window unmapped. Not re-exported from the package. */
export const revokeWindow: unique symbol = Symbol("revokeWindow");

/**
 * One DMA mapping [iova, iova+size) with its permissions and the caller's payload
 * (the server keeps its mmapped view or fd there, the client its backing buffer).
 *
 * In-flight tracking: an access pins the windows it uses and unpins them when done.
 * Unmapping removes the window from the domain at once, so no new access can find
 * it, and whenIdle() tells the unmapper when the last in-flight access has finished,
 * which is when the backing memory may really be released (vfio-user requires the
 * server to drop every reference before replying to DMA_UNMAP).
 */
export class DmaWindow<T> {
  readonly iova: bigint;
  readonly size: bigint;
  readonly perms: DmaPerms;
  readonly value: T;
  /** Pages charged to the memlock account for this window. */
  readonly pages: bigint;
  #pins = 0;
  #mapped = true;
  #waiters: (() => void)[] = [];

  constructor(iova: bigint, size: bigint, perms: DmaPerms, value: T, pages: bigint) {
    this.iova = iova;
    this.size = size;
    this.perms = frozenPerms(perms.read, perms.write);
    this.value = value;
    this.pages = pages;
  }

  /** One past the last IOVA of the window (may be 2^64 for a window ending the space). */
  get end(): bigint {
    return this.iova + this.size;
  }

  /** False once the window has been unmapped. */
  get mapped(): boolean {
    return this.#mapped;
  }

  /** Number of accesses currently in flight. */
  get pins(): number {
    return this.#pins;
  }

  /** Whether the window's permissions allow a read or a write. */
  allows(access: DmaAccessKind): boolean {
    return access === "read" ? this.perms.read : this.perms.write;
  }

  /** Marks an access in flight. Pinning an unmapped window is refused (EFAULT). */
  pin(): void {
    if (!this.#mapped) {
      throw new VfioError("EFAULT", `DMA window at iova ${hex(this.iova)} is no longer mapped`);
    }
    this.#pins++;
  }

  /** Ends an access started with pin(); resolves whenIdle() waiters at zero. */
  unpin(): void {
    if (this.#pins === 0) {
      throw new VfioError("EINVAL", `DMA window at iova ${hex(this.iova)} is not pinned`);
    }
    this.#pins--;
    if (this.#pins === 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no access is in flight (immediately if none is). */
  whenIdle(): Promise<void> {
    if (this.#pins === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks the window unmapped so new accesses fault (for the domain that owns it). */
  [revokeWindow](): void {
    this.#mapped = false;
  }
}

// Four shared frozen objects: freezing a fresh one per window costs a map transition.
const PERMS: readonly DmaPerms[] = [
  Object.freeze({ read: false, write: false }),
  Object.freeze({ read: true, write: false }),
  Object.freeze({ read: false, write: true }),
  Object.freeze({ read: true, write: true }),
];

function frozenPerms(read: boolean, write: boolean): DmaPerms {
  return PERMS[(read ? 1 : 0) | (write ? 2 : 0)]!;
}

/** Resolves when every window given is idle; what an unmapper awaits before releasing. */
export async function whenAllIdle(windows: Iterable<DmaWindow<unknown>>): Promise<void> {
  await untilIdle(Array.from(windows));
}

/**
 * undefined when no access uses any of `windows` (the common case: the unmapper may
 * release them at once, without a turn through the promise machinery), else a promise
 * that resolves once the last in-flight access has finished.
 */
export function untilIdle(windows: readonly DmaWindow<unknown>[]): Promise<void> | undefined {
  const busy = windows.filter((w) => w.pins > 0);
  if (busy.length === 0) return undefined;
  return Promise.all(busy.map((w) => w.whenIdle())).then(() => {});
}

/** The part of one window that a translated access touches. */
export interface DmaSegment<T> {
  readonly window: DmaWindow<T>;
  /** IOVA of the first byte of this segment. */
  readonly iova: bigint;
  /** Offset of that byte from the window's start (into the window's backing). */
  readonly offset: bigint;
  readonly length: bigint;
}

/**
 * A translated access whose windows are pinned until release() (idempotent). Obtain
 * it from IommuDomain.acquire, do the copy, release in a finally block.
 */
export interface DmaAccess<T> {
  readonly segments: readonly DmaSegment<T>[];
  /** Unpins the windows of the access; idempotent. */
  release(): void;
}
