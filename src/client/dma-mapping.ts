import { VfioError } from "../errors.js";
import type { DmaPerms } from "../iommu/index.js";

/** Device access to a mapping: "r" device reads, "w" device writes, or both. */
export type DmaPermsSpec = "r" | "w" | "rw" | DmaPerms;

export function toDmaPerms(spec: DmaPermsSpec): DmaPerms {
  if (typeof spec === "string") {
    if (spec !== "r" && spec !== "w" && spec !== "rw") {
      throw new VfioError(
        "EINVAL",
        `DMA permissions must be "r", "w" or "rw", got ${JSON.stringify(spec)}`,
      );
    }
    return { read: spec.includes("r"), write: spec.includes("w") };
  }
  return { read: spec.read === true, write: spec.write === true };
}

/** The container's bookkeeping for one mapping (the IOMMU window's payload). */
export interface DmaBacking {
  /** The driver's view of the mapped bytes; DMA_READ/DMA_WRITE are served from it. */
  readonly bytes: Uint8Array;
  /** fd the device side may mmap, or -1 (then it uses DMA_READ/DMA_WRITE). */
  readonly fd: number;
  readonly fdOffset: bigint;
  /** Frees the memory once every device has dropped the mapping. */
  release(): void;
}

/** What a mapping needs from its container to undo itself. */
export interface DmaUnmapper {
  unmap(iova: bigint, size: bigint): Promise<bigint>;
}

/**
 * Driver memory made visible to the devices of a container at [iova, iova+size). The
 * memory stays the caller's; the devices reach it through DMA_READ/DMA_WRITE.
 */
export class DmaMapping {
  readonly iova: bigint;
  readonly size: bigint;
  readonly perms: DmaPerms;
  readonly #container: DmaUnmapper;
  #mapped = true;

  constructor(container: DmaUnmapper, iova: bigint, size: bigint, perms: DmaPerms) {
    this.#container = container;
    this.iova = iova;
    this.size = size;
    this.perms = perms;
  }

  get mapped(): boolean {
    return this.#mapped;
  }

  /** @internal The container removed the window. */
  markUnmapped(): void {
    this.#mapped = false;
  }

  /** Removes the mapping from every device of the container. Idempotent. */
  async unmap(): Promise<void> {
    if (!this.#mapped) return;
    await this.#container.unmap(this.iova, this.size);
  }
}

/**
 * Memory the container allocated for DMA: a memfd mapped into this process (as an
 * ArrayBuffer) and passed by fd to every device, so device and driver share the same
 * pages with no copies. free() unmaps it from the devices, then from this process
 * (the ArrayBuffer detaches).
 */
export class DmaBuffer extends DmaMapping {
  readonly #buffer: ArrayBuffer;
  readonly #fd: number;

  constructor(
    container: DmaUnmapper,
    iova: bigint,
    perms: DmaPerms,
    buffer: ArrayBuffer,
    fd: number,
  ) {
    super(container, iova, BigInt(buffer.byteLength), perms);
    this.#buffer = buffer;
    this.#fd = fd;
  }

  /** The shared memory; detached after free(). */
  get buffer(): ArrayBuffer {
    if (!this.mapped)
      throw new VfioError("EBADF", `DMA buffer at iova 0x${this.iova.toString(16)} was freed`);
    return this.#buffer;
  }

  /** A byte view of the whole buffer. */
  get bytes(): Uint8Array {
    return new Uint8Array(this.buffer);
  }

  /** The memfd backing it (owned by the container; -1 once freed). */
  get fd(): number {
    return this.mapped ? this.#fd : -1;
  }

  /** Unmaps the buffer from the container and releases its memory (same as unmap()). */
  free(): Promise<void> {
    return this.unmap();
  }
}
