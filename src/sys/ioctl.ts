/**
 * The system calls of the kernel VFIO path: ioctl on VFIO fds with argument structs
 * encoded by the caller, positioned reads and writes at region offsets, and the
 * address of memory we own (VFIO_IOMMU_MAP_DMA takes a virtual address).
 */
import { constants, openSync } from "node:fs";
import { native } from "./native.js";
import { SysError } from "./sys-error.js";

/**
 * ioctl(fd, request, arg). `arg` is an integer passed by value (VFIO_CHECK_EXTENSION),
 * or the bytes of an argument struct, which the kernel may rewrite in place. Returns
 * the ioctl's result; failures throw a SysError with the errno's name as `code`.
 */
export function ioctl(fd: number, request: number, arg?: number | Uint8Array): number {
  return native().ioctl(fd, request, arg);
}

/** pread(2) into all of `buf`; returns the bytes read. */
export function pread(fd: number, buf: Uint8Array, offset: bigint | number): number {
  return native().pread(fd, buf, offset);
}

/** pwrite(2) of all of `buf`; returns the bytes written. */
export function pwrite(fd: number, buf: Uint8Array, offset: bigint | number): number {
  return native().pwrite(fd, buf, offset);
}

/**
 * The virtual address of `bytes[0]`. Only meaningful for memory that never moves, such
 * as an ArrayBuffer returned by mmap: the kernel pins pages by this address.
 */
export function addressOf(bytes: Uint8Array): bigint {
  return native().addressOf(bytes);
}

/**
 * Opens a character device read-write (close-on-exec). Errors are SysErrors naming
 * the path, so callers can turn EACCES/ENOENT into advice.
 */
export function openDevice(path: string): number {
  try {
    return openSync(path, constants.O_RDWR);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SysError(
      typeof e.errno === "number" ? Math.abs(e.errno) : 0,
      e.code ?? "EIO",
      "open",
      `open ${path}: ${e.message}`,
    );
  }
}
