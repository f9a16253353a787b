/** Connected AF_UNIX stream sockets: the StreamSocket implementation, connect and socketpair. */
import { type NativeAddon, native } from "./native.js";
import { FdPoller } from "./poll.js";
import { isErrno, SysError, sysError } from "./sys-error.js";
import type { Received, StreamSocket } from "./types.js";

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
  #fd: number;
  #addon: NativeAddon;
  #poller: FdPoller | null = null;
  #refed = true;

  /** Adopts `fd` (a connected, non-blocking AF_UNIX stream socket); we now own it. */
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

  send(chunks: readonly Uint8Array[], fds?: readonly number[]): number {
    if (this.#fd < 0) throw sysError("EBADF", "sendmsg", "send on a closed socket");
    return this.#addon.sendmsg(this.#fd, chunks, fds);
  }

  recv(buf: Uint8Array, maxFds: number): Received | null {
    if (this.#fd < 0) throw sysError("EBADF", "recvmsg", "recv on a closed socket");
    const n = this.#addon.recvmsg(this.#fd, buf, maxFds, fdScratch);
    if (n < 0) return null;
    const count = fdScratch[0]!;
    if (count === 0) return { bytes: n, fds: [] };
    const fds = new Array<number>(count);
    for (let i = 0; i < count; i++) fds[i] = fdScratch[i + 1]!;
    return { bytes: n, fds };
  }

  onReadable(cb: (() => void) | null): void {
    if (cb === null && this.#poller === null) return;
    this.#pollerFor("onReadable").onReadable(cb);
  }

  /** One-shot: `cb` runs once when writable, then writability is no longer watched. */
  onWritable(cb: (() => void) | null): void {
    if (cb === null && this.#poller === null) return;
    this.#pollerFor("onWritable").onWritable(cb);
  }

  /** Let this socket's polling keep the process alive (the default). */
  ref(): void {
    this.#refed = true;
    this.#poller?.ref();
  }

  /** Do not keep the process alive just because this socket is being watched. */
  unref(): void {
    this.#refed = false;
    this.#poller?.unref();
  }

  peerCredentials(): PeerCredentials {
    if (this.#fd < 0) throw sysError("EBADF", "getsockopt", "peerCredentials on a closed socket");
    const [pid, uid, gid] = this.#addon.peerCred(this.#fd);
    return { pid, uid, gid };
  }

  close(): void {
    const fd = this.detach();
    if (fd >= 0) this.#addon.close(fd);
  }

  detach(): number {
    const fd = this.#fd;
    this.#poller?.close();
    this.#poller = null;
    this.#fd = -1;
    return fd;
  }

  #pollerFor(what: string): FdPoller {
    if (this.#poller) return this.#poller;
    if (this.#fd < 0) throw sysError("EBADF", "uv_poll_start", `${what} on a closed socket`);
    const p = new FdPoller(this.#fd);
    if (!this.#refed) p.unref();
    this.#poller = p;
    return p;
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
