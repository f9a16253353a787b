/**
 * Listening AF_UNIX sockets on filesystem paths. The socket file appears only once it
 * is listening with its final mode (bound under a temporary name, chmod'ed, then moved
 * into place), a live server's socket is never stolen, a stale one is replaced, and
 * anything that is not a socket is never deleted.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, linkSync, lstatSync, renameSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { debuglog } from "node:util";
import { type NativeAddon, native } from "./native.js";
import { FdPoller } from "./poll.js";
import { checkSocketPath, UNIX_PATH_MAX, UnixSocket } from "./socket.js";
import { isErrno, SysError, sysError } from "./sys-error.js";
import type { ListenOptions, StreamListener } from "./types.js";

const debug = debuglog("vfio:sys");

/** Connections accepted per readiness callback, so one busy listener cannot starve the loop. */
const ACCEPT_BATCH = 64;
/** How long to stop accepting when out of fds or memory. */
const ACCEPT_BACKOFF_MS = 100;

export class UnixListener implements StreamListener {
  readonly path: string;
  #fd: number;
  #addon: NativeAddon;
  #dev: number | bigint;
  #ino: number | bigint;
  #poller: FdPoller | null = null;
  #onConnection: ((sock: UnixSocket) => void) | null = null;
  #backoff: NodeJS.Timeout | null = null;
  #refed = true;

  constructor(fd: number, path: string, dev: number | bigint, ino: number | bigint) {
    this.#fd = fd;
    this.path = path;
    this.#dev = dev;
    this.#ino = ino;
    this.#addon = native();
  }

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  accept(): UnixSocket | null {
    if (this.#fd < 0) throw sysError("EBADF", "accept4", `listener at ${this.path} is closed`);
    const fd = this.#addon.accept(this.#fd);
    return fd === null ? null : new UnixSocket(fd);
  }

  onConnection(cb: ((sock: UnixSocket) => void) | null): void {
    this.#onConnection = cb;
    if (cb === null) {
      this.#clearBackoff();
      this.#poller?.onReadable(null);
      return;
    }
    if (this.#fd < 0)
      throw sysError("EBADF", "uv_poll_start", `listener at ${this.path} is closed`);
    if (this.#poller === null) {
      this.#poller = new FdPoller(this.#fd);
      if (!this.#refed) this.#poller.unref();
    }
    if (this.#backoff === null) this.#poller.onReadable(this.#drain);
  }

  ref(): void {
    this.#refed = true;
    this.#poller?.ref();
    this.#backoff?.ref();
  }

  unref(): void {
    this.#refed = false;
    this.#poller?.unref();
    this.#backoff?.unref();
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#onConnection = null;
    this.#clearBackoff();
    this.#poller?.close();
    this.#poller = null;
    const fd = this.#fd;
    this.#fd = -1;
    this.#addon.close(fd);
    // Remove the file only if it is still the one we created: another server may
    // have replaced it since.
    try {
      const st = lstatSync(this.path, { bigint: typeof this.#ino === "bigint" });
      if (st.dev === this.#dev && st.ino === this.#ino) unlinkSync(this.path);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) debug("close %s: cannot remove socket file: %o", this.path, err);
    }
  }

  #drain = (): void => {
    for (let i = 0; i < ACCEPT_BATCH; i++) {
      const cb = this.#onConnection;
      if (cb === null || this.#fd < 0) return;
      let sock: UnixSocket | null;
      try {
        sock = this.accept();
      } catch (err) {
        // The connection died before we took it: just take the next one.
        if (isErrno(err, "ECONNABORTED") || isErrno(err, "EPROTO")) continue;
        if (["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"].some((c) => isErrno(err, c))) {
          debug("accept on %s: %o; pausing %d ms", this.path, err, ACCEPT_BACKOFF_MS);
          this.#pause();
          return;
        }
        throw err;
      }
      if (sock === null) return;
      cb(sock);
    }
  };

  #pause(): void {
    this.#poller?.onReadable(null);
    this.#backoff = setTimeout(() => {
      this.#backoff = null;
      if (this.#onConnection && this.#poller) this.#poller.onReadable(this.#drain);
    }, ACCEPT_BACKOFF_MS);
    if (!this.#refed) this.#backoff.unref();
  }

  #clearBackoff(): void {
    if (this.#backoff) clearTimeout(this.#backoff);
    this.#backoff = null;
  }
}

/** Listens on a new socket file at `path` (mode 0600 unless `opts.mode` says otherwise). */
export function listenUnix(path: string, opts: ListenOptions = {}): UnixListener {
  checkSocketPath(path, "bind");
  const mode = opts.mode ?? 0o600;
  const backlog = opts.backlog ?? 16;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`mode must be a file mode in [0, 0o7777], got ${mode}`);
  }
  const addon = native();
  // A concurrent server may create the path between our check and our link: check again.
  for (let attempt = 0; ; attempt++) {
    const existing = probeExisting(addon, path);
    const fd = addon.socket();
    let tmp: string | null = null;
    try {
      tmp = bindTemporary(addon, fd, path);
      if (tmp === null) {
        // No room for a temporary name beside it: bind in place (visible before listen).
        if (existing === "stale") unlinkSync(path);
        addon.bind(fd, path);
        chmodSync(path, mode);
        addon.listen(fd, backlog);
      } else {
        chmodSync(tmp, mode);
        addon.listen(fd, backlog);
        if (existing === "stale") {
          renameSync(tmp, path);
        } else if (!placeExclusive(tmp, path)) {
          if (attempt < 3) {
            unlinkSync(tmp);
            addon.close(fd);
            continue;
          }
          throw sysError("EADDRINUSE", "bind", `${path} keeps being created by someone else`);
        }
        tmp = null;
      }
      const st = lstatSync(path, { bigint: true });
      return new UnixListener(fd, path, st.dev, st.ino);
    } catch (err) {
      if (tmp !== null) unlinkQuietly(tmp);
      addon.close(fd);
      throw err instanceof SysError && err.syscall === "bind" && !err.message.includes(path)
        ? err.withMessage(`cannot listen at ${path}: ${err.message}`)
        : err;
    }
  }
}

/** "none" or "stale"; throws when a live server owns `path` or it is not a socket. */
function probeExisting(addon: NativeAddon, path: string): "none" | "stale" {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if (isErrno(err, "ENOENT")) return "none";
    throw err;
  }
  if (!isSocket) {
    throw sysError("EEXIST", "bind", `${path} exists and is not a socket; refusing to replace it`);
  }
  const fd = addon.socket();
  try {
    addon.connect(fd, path); // true, or false when its backlog is full: alive either way
  } catch (err) {
    if (isErrno(err, "ECONNREFUSED")) return "stale";
    if (isErrno(err, "ENOENT")) return "none";
    throw err;
  } finally {
    addon.close(fd);
  }
  throw sysError("EADDRINUSE", "bind", `a server is already listening at ${path}`);
}

/** Binds `fd` to a fresh name beside `path`; null if no such name fits in sun_path. */
function bindTemporary(addon: NativeAddon, fd: number, path: string): string | null {
  const dir = dirname(path);
  for (let i = 0; i < 8; i++) {
    const rand = randomBytes(4).toString("hex");
    const tmp = [join(dir, `.${basename(path)}.${rand}.tmp`), join(dir, `.${rand}`)].find(
      (p) => Buffer.byteLength(p) <= UNIX_PATH_MAX,
    );
    if (tmp === undefined) return null;
    try {
      addon.bind(fd, tmp);
      return tmp;
    } catch (err) {
      if (!isErrno(err, "EADDRINUSE")) throw err;
    }
  }
  throw sysError("EADDRINUSE", "bind", `cannot find a free temporary name beside ${path}`);
}

/** Gives `tmp` the name `path` unless `path` exists (false then). */
function placeExclusive(tmp: string, path: string): boolean {
  try {
    linkSync(tmp, path);
  } catch (err) {
    if (isErrno(err, "EEXIST")) return false;
    // Filesystems without hard links: fall back to rename, which would replace.
    renameSync(tmp, path);
    return true;
  }
  unlinkSync(tmp);
  return true;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
