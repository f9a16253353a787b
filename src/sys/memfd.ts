/** Anonymous shared memory files (memfd_create): guest RAM and DMA buffers we can pass as fds. */

import { PROT_READ, PROT_WRITE } from "./mmap.js";
import { type NativeAddon, native } from "./native.js";
import { sysError } from "./sys-error.js";

/** File seals (linux/fcntl.h F_SEAL_*). */
export const F_SEAL_SEAL = 0x1;
/** Seal: the file can no longer shrink (so mmapped views cannot SIGBUS). */
export const F_SEAL_SHRINK = 0x2;
/** Seal: the file can no longer grow. */
export const F_SEAL_GROW = 0x4;
/** Seal: the file's contents can no longer change. */
export const F_SEAL_WRITE = 0x8;

/**
 * An anonymous shared memory file (memfd_create): memory that can be mmapped here and passed to a
 * peer as an fd.
 */
export class MemFd {
  #fd: number;
  #addon: NativeAddon;

  /** A new memfd of `size` bytes (zero-filled). `name` shows in /proc/PID/fd and maps. */
  static create(name: string, size: bigint | number, opts: { allowSealing?: boolean } = {}): MemFd {
    const addon = native();
    const fd = addon.memfdCreate(name, opts.allowSealing ?? false);
    try {
      addon.ftruncate(fd, size);
    } catch (err) {
      addon.close(fd);
      throw err;
    }
    return new MemFd(fd);
  }

  /** Adopts a memfd (or any mappable file fd); we now own it. */
  constructor(fd: number) {
    this.#fd = fd;
    this.#addon = native();
  }

  /** The fd, or -1 once closed or detached. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Current size in bytes. */
  get size(): bigint {
    return this.#addon.fstatSize(this.#open("fstat"));
  }

  /** Grows (zero-filled) or shrinks the file. */
  resize(size: bigint | number): void {
    this.#addon.ftruncate(this.#open("ftruncate"), size);
  }

  /**
   * Adds seals (F_SEAL_* bits; needs `allowSealing` at create) and returns the seals in
   * force. Sealing size (SHRINK | GROW | SEAL) before handing the fd to a peer means the
   * peer cannot truncate it under our own mapping, which would kill us with SIGBUS.
   */
  seal(seals: number): number {
    return this.#addon.memfdSeals(this.#open("fcntl"), seals);
  }

  /** The seals in force (F_GET_SEALS). */
  get seals(): number {
    return this.#addon.memfdSeals(this.#open("fcntl"), 0);
  }

  /** Maps a range of it; see mmap(). */
  map(offset: bigint | number, length: number, prot: number = PROT_READ | PROT_WRITE): ArrayBuffer {
    return this.#addon.mmap(this.#open("mmap"), offset, length, prot);
  }

  /** Closes the fd. Existing mappings stay valid until munmap'ed. Idempotent. */
  close(): void {
    const fd = this.detach();
    if (fd >= 0) this.#addon.close(fd);
  }

  /** Gives up ownership: returns the fd without closing it. */
  detach(): number {
    const fd = this.#fd;
    this.#fd = -1;
    return fd;
  }

  #open(syscall: string): number {
    if (this.#fd < 0) throw sysError("EBADF", syscall, "memfd is closed");
    return this.#fd;
  }
}
