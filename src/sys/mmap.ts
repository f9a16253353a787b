/**
 * Shared mappings of an fd as ArrayBuffers. munmap detaches the buffer, so every view
 * of it sees length 0 afterwards instead of touching unmapped memory; a buffer that
 * is garbage collected without munmap is unmapped by its finalizer.
 */
import { native } from "./native.js";

/** mmap protection: readable. */
export const PROT_READ = 1;
/** mmap protection: writable. */
export const PROT_WRITE = 2;

/**
 * mmap(MAP_SHARED) `length` bytes of `fd` from `offset` (page aligned, else EINVAL).
 * `prot` is PROT_READ, PROT_WRITE or both (default both).
 */
export function mmap(
  fd: number,
  offset: bigint | number,
  length: number,
  prot: number = PROT_READ | PROT_WRITE,
): ArrayBuffer {
  return native().mmap(fd, offset, length, prot);
}

/** Unmaps a buffer returned by mmap and detaches it. Returns false if it already was unmapped. */
export function munmap(ab: ArrayBuffer): boolean {
  return native().munmap(ab);
}
