/** Connected AF_UNIX stream sockets: the StreamSocket implementation, connect and socketpair. */
import { type NativeAddon, native } from "./native.js";
import { isErrno, SysError, sysError } from "./sys-error.js";
import type { Received, StreamSocket } from "./types.js";
import { WatchedFd } from "./watched-fd.js";

/** sun_path holds 108 bytes including the terminating NUL. */
export const UNIX_PATH_MAX = 107;

/** Most fds one message may carry (the kernel's SCM_MAX_FD). */
export const MAX_FDS_PER_MESSAGE = 253;

// recv is synchronous, so one scratch array for the fds of every recvmsg suffices.
const fdScratch = new Int32Array(MAX_FDS_PER_MESSAGE + 1);

/** Credentials of the process at the other end, as of connect/socketpair time. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export class UnixSocket implements StreamSocket {
  readonly #own: WatchedFd;
  readonly #addon: NativeAddon;

  /** Adopts `fd` (a connected, non-blocking AF_UNIX stream socket); we now own it. */
  constructor(fd: number) {
    this.#own = new WatchedFd(fd, "socket");
    this.#addon = native();
  }

  /** The fd, or -1 once closed or detached. */
  get fd(): number {
    return this.#own.fd;
  }

  get closed(): boolean {
    return this.#own.closed;
  }

  send(chunks: readonly Uint8Array[], fds?: readonly number[]): number {
    return this.#addon.sendmsg(this.#own.open("sendmsg"), chunks, fds);
  }

  recv(buf: Uint8Array, maxFds: number): Received | null {
    const n = this.#addon.recvmsg(this.#own.open("recvmsg"), buf, maxFds, fdScratch);
    if (n < 0) return null;
    const count = fdScratch[0]!;
    if (count === 0) return { bytes: n, fds: [] };
    const fds = new Array<number>(count);
    for (let i = 0; i < count; i++) fds[i] = fdScratch[i + 1]!;
    return { bytes: n, fds };
  }

  onReadable(cb: (() => void) | null): void {
    if (cb === null && !this.#own.watching) return;
    this.#own.poller().onReadable(cb);
  }

  /** One-shot: `cb` runs once when writable, then writability is no longer watched. */
  onWritable(cb: (() => void) | null): void {
    if (cb === null && !this.#own.watching) return;
    this.#own.poller().onWritable(cb);
  }

  spinUntilReadable(usec: number): boolean {
    return this.#addon.spinUntilReadable(this.#own.open("poll"), usec);
  }

  /** Let this socket's polling keep the process alive (the default). */
  ref(): void {
    this.#own.ref();
  }

  /** Do not keep the process alive just because this socket is being watched. */
  unref(): void {
    this.#own.unref();
  }

  /** The pid, uid and gid of the peer (SO_PEERCRED). */
  peerCredentials(): PeerCredentials {
    const [pid, uid, gid] = this.#addon.peerCred(this.#own.open("getsockopt"));
    return { pid, uid, gid };
  }

  close(): void {
    this.#own.close();
  }

  detach(): number {
    return this.#own.detach();
  }
}

/** Throws ENAMETOOLONG unless `path` fits in sockaddr_un.sun_path. */
export function checkSocketPath(path: string, syscall: string): void {
  const len = Buffer.byteLength(path);
  if (len > UNIX_PATH_MAX) {
    throw sysError(
      "ENAMETOOLONG",
      syscall,
      `socket path is ${len} bytes, longer than the ${UNIX_PATH_MAX} AF_UNIX allows: ${path}`,
    );
  }
}

/** Connects to the listening socket at `path`. */
export function connectUnix(path: string): UnixSocket {
  checkSocketPath(path, "connect");
  const addon = native();
  const fd = addon.socket();
  try {
    if (!addon.connect(fd, path)) {
      throw sysError("EAGAIN", "connect", `the listener at ${path} has a full backlog; try again`);
    }
  } catch (err) {
    addon.close(fd);
    throw explainConnectError(err, path);
  }
  return new UnixSocket(fd);
}

/** How long connectWithRetry keeps trying a socket that is not there yet. */
export interface ConnectRetryOptions {
  /** Give up after this long (default 5000 ms); the last error is thrown. */
  timeoutMs?: number;
  /** Pause between attempts (default 10 ms). */
  intervalMs?: number;
}

/** Errors that mean "not yet": no socket file, nobody listening, backlog full. */
const RETRYABLE = ["ENOENT", "ECONNREFUSED", "EAGAIN"];

/**
 * connectUnix, retried while the server is not up yet (ENOENT, ECONNREFUSED) or its
 * backlog is full (EAGAIN): for clients started alongside their server.
 */
export async function connectUnixRetry(
  path: string,
  opts: ConnectRetryOptions = {},
): Promise<UnixSocket> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  const interval = opts.intervalMs ?? 10;
  for (;;) {
    try {
      return connectUnix(path);
    } catch (err) {
      if (!RETRYABLE.some((c) => isErrno(err, c)) || Date.now() >= deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

function explainConnectError(err: unknown, path: string): unknown {
  if (!(err instanceof SysError)) return err;
  if (isErrno(err, "ENOENT")) return err.withMessage(`no socket at ${path}`);
  if (isErrno(err, "ECONNREFUSED")) return err.withMessage(`nothing is listening at ${path}`);
  if (isErrno(err, "EACCES")) return err.withMessage(`permission denied connecting to ${path}`);
  return err.withMessage(`connect to ${path}: ${err.message}`);
}

/** A connected pair of sockets (socketpair(2)). */
export function socketPair(): [UnixSocket, UnixSocket] {
  const [a, b] = native().socketpair();
  return [new UnixSocket(a), new UnixSocket(b)];
}
