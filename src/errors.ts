/**
 * Errors across vfio-ts carry a Linux errno, because that is what the vfio-user
 * protocol puts on the wire and what the kernel VFIO API returns. `code` is the
 * errno name (as Node uses for system errors); `errno` the positive number.
 */

/** Linux errno numbers (asm-generic, as on x86-64 and arm64): the ones a peer or a syscall may report. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  ENODATA: 61,
  ETIME: 62,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EILSEQ: 84,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  EDQUOT: 122,
  ECANCELED: 125,
  EOWNERDEAD: 130,
} as const;

/**
 * The name of an errno that vfio-ts uses ("EINVAL", "EFAULT", ...): the type of VfioError's `code`.
 */
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

  /**
   * How Node prints it (an uncaught error in a script, console.error): the message with
   * its causes' messages on one line, then the stack frames, instead of Node's nested
   * dump of every cause with its own stack and properties.
   */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const frames = (this.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
    return [`${this.name} [${this.code}]: ${oneSentence(this)}`, ...frames].join("\n");
  }
}

/** An error's message followed by each cause's ("...: because ..."), on one line. */
export function oneSentence(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e); ) {
    seen.add(e);
    const msg = e instanceof Error ? e.message : String(e);
    // A cause whose message the outer one already quotes adds nothing.
    if (!parts.some((p) => p.includes(msg))) parts.push(msg);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" (because: ") + ")".repeat(Math.max(0, parts.length - 1));
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
