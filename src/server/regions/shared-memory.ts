import { VfioError } from "../../errors.js";
import { F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, MemFd, munmap } from "../../sys/index.js";

export const PAGE_SIZE = 4096;

/**
 * Memory shared between the device and the client: a memfd the client mmaps (its fd
 * travels with REGION_INFO replies) and our own mapping of it, which the device reads
 * and writes as `bytes`. Device lifetime: it outlives client connections.
 */
export class SharedMemory {
  readonly size: number;
  readonly #memfd: MemFd;
  readonly #buffer: ArrayBuffer;
  readonly bytes: Uint8Array;

  constructor(name: string, size: number) {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new VfioError("EINVAL", `shared memory "${name}" needs a positive size, got ${size}`);
    }
    const mapped = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    this.size = size;
    this.#memfd = MemFd.create(`vfio-ts:${name}`, mapped, { allowSealing: true });
    try {
      // Clients get this fd; with its size sealed none can truncate it under our mapping.
      this.#memfd.seal(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
      this.#buffer = this.#memfd.map(0, mapped);
    } catch (err) {
      this.#memfd.close();
      throw err;
    }
    this.bytes = new Uint8Array(this.#buffer, 0, size);
  }

  /** The memfd to pass to clients (they get their own copy; we keep this one). */
  get fd(): number {
    return this.#memfd.fd;
  }

  close(): void {
    munmap(this.#buffer);
    this.#memfd.close();
  }
}
