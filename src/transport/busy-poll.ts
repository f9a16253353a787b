/**
 * Opt-in busy polling (`pollUs`): the halt-polling idea in user space, as SPDK and DPDK
 * poll for the same reason. A request/reply peer usually sends its next message within
 * microseconds of getting our last one, but by then we are back in epoll_wait and pay a
 * whole wake-up for it (libuv, N-API, V8, and on an idle VM a halted vCPU's exit). After
 * a wake-up has been handled, this spins on the socket for up to `usec` µs and, if a
 * message arrives, handles it in the same event-loop callback.
 *
 * When to spin: only after a wake-up that found data, and only once the callback's
 * work is done: the spin is queued as a microtask that queues a nextTick, and Node
 * runs that tick only after the whole microtask queue has drained. By then a server's
 * replies are written (async handlers' too, if they settled without I/O) and a client's
 * awaiting code has sent its next request. An idle connection therefore costs nothing:
 * each message buys at most `usec` µs of spinning, and a peer that goes quiet gets one
 * spin and then a normal sleep.
 *
 * Fairness: a peer that keeps answering within `usec` could hold the event loop, so
 * after MAX_CATCHES messages caught by spinning the poller yields to the loop (which
 * finds the socket ready at once, without sleeping) and timers and other fds run.
 */
import type { StreamSocket } from "../sys/types.js";

/** Largest pollUs accepted: a second of spinning is already far past any sane use. */
export const MAX_POLL_US = 1_000_000;

/** Messages caught by spinning in a row before the poller lets the event loop run. */
const MAX_CATCHES = 64;

/** Validates a pollUs option; 0 (or undefined) means polling is off. */
export function checkPollUs(v: number | undefined): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_POLL_US) {
    throw new RangeError(`pollUs must be an integer in [0, ${MAX_POLL_US}], got ${v}`);
  }
  return n;
}

/** Spins on one socket for the peer's next message after each handled wake-up (`pollUs`). */
export class BusyPoll {
  readonly #socket: StreamSocket & { spinUntilReadable(usec: number): boolean };
  readonly #usec: number;
  readonly #read: () => void;
  readonly #canSpin: () => boolean;
  #armed = false;
  #catches = 0;
  readonly #toTick = (): void => process.nextTick(this.#spin);
  readonly #spin = (): void => this.spin();

  /**
   * `read` handles whatever is on the socket (and arms the poller again through
   * afterRead); `canSpin` says whether reading is still wanted (not paused or ended).
   */
  private constructor(
    socket: StreamSocket & { spinUntilReadable(usec: number): boolean },
    usec: number,
    read: () => void,
    canSpin: () => boolean,
  ) {
    this.#socket = socket;
    this.#usec = usec;
    this.#read = read;
    this.#canSpin = canSpin;
  }

  /** A poller for `socket`, or null when `usec` is 0 or the socket cannot spin. */
  static create(
    socket: StreamSocket,
    usec: number,
    read: () => void,
    canSpin: () => boolean,
  ): BusyPoll | null {
    if (usec === 0 || typeof socket.spinUntilReadable !== "function") return null;
    return new BusyPoll(
      socket as StreamSocket & { spinUntilReadable(usec: number): boolean },
      usec,
      read,
      canSpin,
    );
  }

  /** The event loop woke the reader: a new run of catches begins. */
  woke(): void {
    this.#catches = 0;
  }

  /** The reader handled a wake-up (or a catch): spin once its consequences have run. */
  afterRead(): void {
    if (this.#armed || this.#catches >= MAX_CATCHES || !this.#canSpin()) return;
    this.#armed = true;
    queueMicrotask(this.#toTick);
  }

  private spin(): void {
    this.#armed = false;
    if (!this.#canSpin() || this.#socket.closed) return;
    let ready: boolean;
    try {
      ready = this.#socket.spinUntilReadable(this.#usec);
    } catch {
      return; // the fd went away: the next receive (from the event loop) reports it
    }
    if (!ready) return;
    this.#catches++;
    this.#read();
  }
}
