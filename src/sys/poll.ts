/**
 * Readiness of one fd, delivered by the Node event loop through a native uv_poll
 * watcher. libuv allows one watcher per fd, so readable and writable interest share
 * it here. Polling is level-triggered: a readable callback fires on every loop turn
 * while data is pending, so consumers drain or stop. Writable interest is one-shot.
 */
import {
  type NativeAddon,
  type NativeWatcher,
  native,
  POLL_HANGUP,
  POLL_READABLE,
  POLL_WRITABLE,
} from "./native.js";
import { sysError } from "./sys-error.js";

/** Called when a watched fd is readable. */
export type ReadinessCallback = () => void;

/** Watches one fd in libuv's event loop (uv_poll) and calls back when it is readable. */
export class FdPoller {
  readonly fd: number;
  #addon: NativeAddon;
  #watcher: NativeWatcher | null;
  #readable: ReadinessCallback | null = null;
  #writable: ReadinessCallback | null = null;
  #events = 0;

  constructor(fd: number) {
    this.fd = fd;
    this.#addon = native();
    this.#watcher = this.#addon.pollNew(fd, this.#dispatch);
  }

  get closed(): boolean {
    return this.#watcher === null;
  }

  /** Call `cb` whenever the fd is readable, hung up or in error; null stops. */
  onReadable(cb: ReadinessCallback | null): void {
    this.#readable = cb;
    this.#update();
  }

  /** Call `cb` once when the fd becomes writable (or in error); null cancels. `cb` may re-arm. */
  onWritable(cb: ReadinessCallback | null): void {
    this.#writable = cb;
    this.#update();
  }

  /** Keep the process alive while watching (the default). */
  ref(): void {
    if (this.#watcher) this.#addon.pollRef(this.#watcher, true);
  }

  /** Do not keep the process alive just for this watcher. */
  unref(): void {
    if (this.#watcher) this.#addon.pollRef(this.#watcher, false);
  }

  /** Stop watching for good. The fd is untouched (and may be closed right after). Idempotent. */
  close(): void {
    const w = this.#watcher;
    if (w === null) return;
    this.#watcher = null;
    this.#readable = null;
    this.#writable = null;
    this.#addon.pollClose(w);
  }

  #update(): void {
    const w = this.#watcher;
    if (w === null) {
      if (this.#readable || this.#writable) {
        this.#readable = this.#writable = null;
        throw sysError("EBADF", "uv_poll_start", `fd ${this.fd}: poller is closed`);
      }
      return;
    }
    const events = (this.#readable ? POLL_READABLE : 0) | (this.#writable ? POLL_WRITABLE : 0);
    if (events === this.#events) return;
    this.#addon.pollStart(w, events);
    this.#events = events;
  }

  // An arrow field: bound once, so no closure is created per event.
  #dispatch = (events: number, errno: number): void => {
    // On an error (POLLERR: a reset peer, or the fd closed under us) libuv has already
    // stopped the watcher. Both sides hear of it; their next syscall reports the error.
    const failed = errno !== 0;
    if (failed) this.#events = 0;
    if ((failed || events & POLL_WRITABLE) && this.#writable) {
      const cb = this.#writable;
      this.#writable = null;
      this.#update();
      cb();
    }
    if ((failed || events & (POLL_READABLE | POLL_HANGUP)) && this.#readable && this.#watcher) {
      this.#readable();
    }
    if (failed && this.#watcher) this.#update();
  };
}
