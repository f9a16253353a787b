/**
 * The contract between the native layer (src/sys, native/) and everything above it.
 * Transport and tests depend only on these shapes; src/sys implements them over
 * the N-API addon. All fds here are owned: whoever holds one must close it.
 *
 * Errors thrown by sys functions are `SysError`s (see ./sys-error.ts): `code` is the
 * errno name (EAGAIN, EBADF, ...), `errno` the positive number, `syscall` the call.
 */

/** Bytes received by one recvmsg, with the fds that arrived with them (SCM_RIGHTS). */
export interface Received {
  /** Number of bytes written into the caller's buffer; 0 means the peer closed (EOF). */
  bytes: number;
  /** Descriptors received with these bytes, already CLOEXEC. Owned by the caller. */
  fds: number[];
}

/**
 * A connected, non-blocking AF_UNIX SOCK_STREAM socket.
 * Readiness comes from the Node event loop (uv_poll); only spinUntilReadable busy-polls.
 */
export interface StreamSocket {
  readonly fd: number;
  readonly closed: boolean;
  /**
   * One sendmsg. `fds` (may be empty) travel as SCM_RIGHTS with the first byte.
   * Returns bytes accepted by the kernel (may be fewer than offered: a partial write),
   * or 0 with nothing sent when the socket would block (EAGAIN). Other errors throw
   * (EPIPE, ECONNRESET, ...). The caller keeps ownership of `fds` (the kernel dups them).
   */
  send(chunks: readonly Uint8Array[], fds?: readonly number[]): number;
  /**
   * One recvmsg into `buf` accepting up to `maxFds` descriptors (MSG_CMSG_CLOEXEC).
   * Returns null when it would block. When the ancillary data was truncated (MSG_CTRUNC:
   * the peer sent more fds than `maxFds`), every fd that did arrive is closed and a
   * SysError with code "EPROTO" (message naming MSG_CTRUNC) is thrown: fds are never
   * silently lost.
   */
  recv(buf: Uint8Array, maxFds: number): Received | null;
  /** Call `cb` whenever the socket is readable (or hung up / in error); null stops. */
  onReadable(cb: (() => void) | null): void;
  /**
   * Call `cb` once the socket is writable again; null stops. One-shot: after `cb` runs,
   * writability is no longer watched unless `cb` (or anyone) calls onWritable again.
   */
  onWritable(cb: (() => void) | null): void;
  /**
   * Busy-wait (on this thread, never blocking) up to `usec` microseconds for the
   * socket to become readable or hung up; true as soon as it is, false once the time
   * is up. Optional: transports that lack it simply do not spin (see pollUs).
   */
  spinUntilReadable?(usec: number): boolean;
  /** Stop polling and close the fd. Idempotent. */
  close(): void;
  /** Give up ownership of the fd (stops polling, does not close); returns it. */
  detach(): number;
  /** Let this socket's polling keep the process alive (the default for UnixSocket). */
  ref?(): void;
  /** Do not keep the process alive just because this socket is watched. */
  unref?(): void;
}

/** A listening AF_UNIX socket bound to a filesystem path. */
export interface StreamListener {
  readonly fd: number;
  readonly path: string;
  /** Accept one pending connection, or null if none is pending. */
  accept(): StreamSocket | null;
  /** Call `cb` whenever a connection is pending; null stops. */
  onConnection(cb: ((sock: StreamSocket) => void) | null): void;
  /** Stop listening, close the fd and remove the socket file (if it is still ours). */
  close(): void;
  /** Let a watching listener keep the process alive (the default for UnixListener). */
  ref?(): void;
  /** Do not keep the process alive just because this listener is watched. */
  unref?(): void;
}

/** Options of listening on a UNIX socket path: file mode and backlog. */
export interface ListenOptions {
  /** Socket file mode; default 0o600. */
  mode?: number;
  /** listen() backlog; default 16. */
  backlog?: number;
}
