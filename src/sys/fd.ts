/** Plain-fd operations for descriptors held as numbers (e.g. fds received over a socket). */
import { debuglog } from "node:util";
import { native } from "./native.js";

const debug = debuglog("vfio:sys");

/** close(2). Throws EBADF if `fd` is not open. */
export function closeFd(fd: number): void {
  native().close(fd);
}

/**
 * Closes descriptors we own and will not keep. Errors are only traced: Linux releases
 * the fd even when close reports an error, and a failure here must not mask the error
 * that led to the cleanup.
 */
export function closeFdsQuietly(fds: Iterable<number>): void {
  for (const fd of fds) closeFdQuietly(fd);
}

/** closeFdsQuietly for one fd. */
export function closeFdQuietly(fd: number): void {
  try {
    native().close(fd);
  } catch (err) {
    debug("closing fd %d failed: %s", fd, (err as Error).message);
  }
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
