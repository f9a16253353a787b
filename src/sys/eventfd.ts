/** eventfd(2) counters: how interrupts and other notifications travel between processes. */
import { type NativeAddon, native } from "./native.js";
import { WatchedFd } from "./watched-fd.js";

/** Flags and initial value of a new eventfd. */
export interface EventFdOptions {
  /** Initial counter value; default 0. */
  initval?: number;
  /** EFD_SEMAPHORE: each read returns 1 and decrements; default false. */
  semaphore?: boolean;
  /** EFD_NONBLOCK; default true (read() then returns null instead of blocking). */
  nonblocking?: boolean;
}

/** An eventfd we own: signal it, read it, or be called back when it fires. */
export class EventFd {
  readonly #own: WatchedFd;
  readonly #addon: NativeAddon;

  /** A new eventfd (eventfd(2)) with the given initial value and flags. */
  static create(opts: EventFdOptions = {}): EventFd {
    const flags = (opts.nonblocking === false ? 0 : 1) | (opts.semaphore ? 2 : 0);
    return new EventFd(native().eventfd(opts.initval ?? 0, flags));
  }

  /**
   * Adopts an eventfd (e.g. one received over a socket); we now own it. Watching it
   * with onReadable makes its open file description non-blocking (shared with the sender).
   */
  constructor(fd: number) {
    this.#own = new WatchedFd(fd, "eventfd");
    this.#addon = native();
  }

  /** The fd, or -1 once closed or detached. */
  get fd(): number {
    return this.#own.fd;
  }

  get closed(): boolean {
    return this.#own.closed;
  }

  /** Adds `n` to the counter. Returns false if that would overflow it (nonblocking fds). */
  signal(n: bigint | number = 1n): boolean {
    return this.#addon.eventfdWrite(this.#own.open("write"), n);
  }

  /** Reads and resets the counter (or takes 1 in semaphore mode); null when it is 0. */
  read(): bigint | null {
    return this.#addon.eventfdRead(this.#own.open("read"));
  }

  /** Call `cb` whenever the counter is non-zero; null stops. Level-triggered: read it. */
  onReadable(cb: (() => void) | null): void {
    if (cb === null && !this.#own.watching) return;
    this.#own.poller().onReadable(cb);
  }

  /** Let watching it keep the process alive again. */
  ref(): void {
    this.#own.ref();
  }

  /** Do not keep the process alive just because it is being watched. */
  unref(): void {
    this.#own.unref();
  }

  /** Stops watching and closes the fd; idempotent. */
  close(): void {
    this.#own.close();
  }

  /** Gives up ownership: stops watching, returns the fd without closing it. */
  detach(): number {
    return this.#own.detach();
  }
}
