/**
 * Errors across vfio-ts carry a Linux errno, because that is what the vfio-user
 * protocol puts on the wire and what the kernel VFIO API returns. `code` is the
 * errno name (as Node uses for system errors); `errno` the positive number.
 */

/** Linux errno numbers (asm-generic, as on x86-64 and arm64) that vfio-ts uses. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  ESPIPE: 29,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EALREADY: 114,
  ECANCELED: 125,
} as const;

export type ErrnoName = keyof typeof Errno;

const byNumber = new Map<number, ErrnoName>(
  Object.entries(Errno).map(([k, v]) => [v, k as ErrnoName]),
);

/** Name of an errno number, or `E<number>` when we have no name for it. */
export function errnoName(errno: number): string {
  return byNumber.get(errno) ?? `E${errno}`;
}

/** Base error of vfio-ts: an errno plus a message that says what went wrong. */
export class VfioError extends Error {
  readonly code: string;
  readonly errno: number;

  constructor(code: ErrnoName | number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "VfioError";
    if (typeof code === "number") {
      this.errno = code;
      this.code = errnoName(code);
    } else {
      this.errno = Errno[code];
      this.code = code;
    }
  }
}

/** The errno to report for any thrown value: its own if it has one, else EIO. */
export function errnoOf(err: unknown): number {
  if (err instanceof VfioError) return err.errno;
  if (err && typeof err === "object") {
    const e = err as { errno?: unknown; code?: unknown };
    if (typeof e.errno === "number" && e.errno > 0) return e.errno;
    if (typeof e.errno === "number" && e.errno < 0) return -e.errno;
    if (typeof e.code === "string" && e.code in Errno) return Errno[e.code as ErrnoName];
  }
  return Errno.EIO;
}
