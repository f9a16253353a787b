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

/**
 * The F_SEAL_* seals of the file behind `fd` (F_GET_SEALS); 0 for files that cannot
 * carry seals (anything but a memfd answers EINVAL).
 */
export function fdSeals(fd: number): number {
  try {
    return native().memfdSeals(fd, 0);
  } catch (err) {
    if ((err as { code?: string }).code === "EINVAL") return 0;
    throw err;
  }
}
