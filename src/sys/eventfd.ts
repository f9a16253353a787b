/** eventfd(2) counters: how interrupts and other notifications travel between processes. */
import { type NativeAddon, native } from "./native.js";
import { FdPoller } from "./poll.js";
import { sysError } from "./sys-error.js";

export interface EventFdOptions {
  /** Initial counter value; default 0. */
  initval?: number;
  /** EFD_SEMAPHORE: each read returns 1 and decrements; default false. */
  semaphore?: boolean;
  /** EFD_NONBLOCK; default true (read() then returns null instead of blocking). */
  nonblocking?: boolean;
}

export class EventFd {
  #fd: number;
  #addon: NativeAddon;
  #poller: FdPoller | null = null;
  #refed = true;

  static create(opts: EventFdOptions = {}): EventFd {
    const flags = (opts.nonblocking === false ? 0 : 1) | (opts.semaphore ? 2 : 0);
    return new EventFd(native().eventfd(opts.initval ?? 0, flags));
  }

  /**
   * Adopts an eventfd (e.g. one received over a socket); we now own it. Watching it
   * with onReadable makes its open file description non-blocking (shared with the sender).
   */
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

  /** Adds `n` to the counter. Returns false if that would overflow it (nonblocking fds). */
  signal(n: bigint | number = 1n): boolean {
    return this.#addon.eventfdWrite(this.#open("write"), n);
  }

  /** Reads and resets the counter (or takes 1 in semaphore mode); null when it is 0. */
  read(): bigint | null {
    return this.#addon.eventfdRead(this.#open("read"));
  }

  /** Call `cb` whenever the counter is non-zero; null stops. Level-triggered: read it. */
  onReadable(cb: (() => void) | null): void {
    if (cb === null && this.#poller === null) return;
    if (this.#poller === null) {
      this.#poller = new FdPoller(this.#open("uv_poll_start"));
      if (!this.#refed) this.#poller.unref();
    }
    this.#poller.onReadable(cb);
  }

  ref(): void {
    this.#refed = true;
    this.#poller?.ref();
  }

  unref(): void {
    this.#refed = false;
    this.#poller?.unref();
  }

  close(): void {
    const fd = this.detach();
    if (fd >= 0) this.#addon.close(fd);
  }

  /** Gives up ownership: stops watching, returns the fd without closing it. */
  detach(): number {
    const fd = this.#fd;
    this.#poller?.close();
    this.#poller = null;
    this.#fd = -1;
    return fd;
  }

  #open(syscall: string): number {
    if (this.#fd < 0) throw sysError("EBADF", syscall, "eventfd is closed");
    return this.#fd;
  }
}
