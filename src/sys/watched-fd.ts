/**
 * An fd we own, plus its event-loop watcher created on first use: what sockets and
 * eventfds have in common. Closing or detaching stops the watcher first, because libuv
 * must stop polling an fd before the number can be reused.
 */
import { native } from "./native.js";
import { FdPoller } from "./poll.js";
import { sysError } from "./sys-error.js";

export class WatchedFd {
  #fd: number;
  #poller: FdPoller | null = null;
  #refed = true;
  readonly #what: string;

  /** `what` names the object in EBADF messages ("socket", "eventfd"). */
  constructor(fd: number, what: string) {
    this.#fd = fd;
    this.#what = what;
  }

  /** The fd, or -1 once closed or detached. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** True once a watcher exists (so a `null` callback has something to stop). */
  get watching(): boolean {
    return this.#poller !== null;
  }

  /** The fd for `syscall`, or EBADF when it is closed. */
  open(syscall: string): number {
    if (this.#fd < 0) throw sysError("EBADF", syscall, `${syscall} on a closed ${this.#what}`);
    return this.#fd;
  }

  /** The watcher, created on first use with the current ref state. */
  poller(): FdPoller {
    if (this.#poller) return this.#poller;
    const p = new FdPoller(this.open("uv_poll_start"));
    if (!this.#refed) p.unref();
    this.#poller = p;
    return p;
  }

  /** Let watching this fd keep the process alive (the default). */
  ref(): void {
    this.#refed = true;
    this.#poller?.ref();
  }

  /** Do not keep the process alive just because this fd is watched. */
  unref(): void {
    this.#refed = false;
    this.#poller?.unref();
  }

  /** Gives up ownership: stops watching, returns the fd without closing it. */
  detach(): number {
    const fd = this.#fd;
    this.#poller?.close();
    this.#poller = null;
    this.#fd = -1;
    return fd;
  }

  /** Stops watching and closes the fd. Idempotent. */
  close(): void {
    const fd = this.detach();
    if (fd >= 0) native().close(fd);
  }
}
