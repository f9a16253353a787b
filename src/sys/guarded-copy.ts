/**
 * Copies that survive shared memory vanishing under them. A peer that passed us an fd
 * can truncate the file behind our mapping; a plain copy from or to that mapping then
 * dies of SIGBUS, and the whole process with it. copyGuarded catches exactly that
 * fault, for exactly the bytes it copies, and turns it into an EFAULT error.
 */
import { native } from "./native.js";

/** Copies min(dst, src) bytes; throws a SysError EFAULT if either's memory is gone. */
export function copyGuarded(dst: Uint8Array, src: Uint8Array): number {
  return native().copyGuarded(dst, src);
}
