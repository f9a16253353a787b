/** Plain-fd operations for descriptors held as numbers (e.g. fds received over a socket). */
import { native } from "./native.js";

/** close(2). Throws EBADF if `fd` is not open. */
export function closeFd(fd: number): void {
  native().close(fd);
}

/** A CLOEXEC duplicate of `fd` (owned by the caller). */
export function dupFd(fd: number): number {
  return native().dup(fd);
}

/** st_size of whatever `fd` refers to. */
export function fdSize(fd: number): bigint {
  return native().fstatSize(fd);
}
