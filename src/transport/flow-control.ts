/**
 * Flow control of one connection: once more than highWaterBytes wait to be sent, the
 * peer is no longer read, the commands already received wait in order, and reading
 * resumes when half has drained. Our own messages get ENOBUFS past maxQueuedBytes, and
 * a peer that takes nothing for stallTimeoutMs is given up on. See ConnectionOptions.
 */
import { debuglog } from "node:util";
import { VfioError } from "../errors.js";
import { commandName } from "../protocol/constants.js";
import { closeFds } from "./fds.js";
import type { ReceivedFrame } from "./message-reader.js";

const debug = debuglog("vfio-transport");

const DEFAULT_HIGH_WATER = 1 << 20;
const DEFAULT_STALL_MS = 30_000;

export interface FlowOptions {
  highWaterBytes?: number;
  maxQueuedBytes?: number;
  stallTimeoutMs?: number;
}

/** What flow control needs from its connection. */
export interface FlowHost {
  readonly queuedBytes: number;
  readonly closed: boolean;
  channels(): readonly {
    reader: { pause(): void; resume(): void };
    writer: { onDrain(cb: (() => void) | null): void };
  }[];
  /** Handle one of the peer's commands now. */
  handle(frame: ReceivedFrame): void;
  /** The peer stalled: close the connection with this error. */
  stalled(err: VfioError): void;
}

function nonNegative(v: number | undefined, dflt: number, what: string): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${v}`);
  }
  return n;
}

export class FlowControl {
  readonly #host: FlowHost;
  readonly #highWater: number;
  readonly #maxQueued: number;
  readonly #stallMs: number;
  #throttled = false;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** The peer's commands received while throttled, handled once we drain. */
  readonly #held: ReceivedFrame[] = [];
  readonly #drainedCb = (): void => this.#drained();

  constructor(options: FlowOptions, host: FlowHost) {
    this.#host = host;
    this.#highWater = nonNegative(options.highWaterBytes, DEFAULT_HIGH_WATER, "highWaterBytes");
    this.#maxQueued = nonNegative(options.maxQueuedBytes, 4 * this.#highWater, "maxQueuedBytes");
    this.#stallMs = nonNegative(options.stallTimeoutMs, DEFAULT_STALL_MS, "stallTimeoutMs");
  }

  /** Whether reading the peer is paused because it does not take what we send. */
  get throttled(): boolean {
    return this.#throttled;
  }

  /** ENOBUFS for our own message when the peer has stopped taking what we queued. */
  overfull(command: number): VfioError | null {
    const queued = this.#host.queuedBytes;
    if (this.#maxQueued === 0 || queued <= this.#maxQueued) return null;
    return new VfioError(
      "ENOBUFS",
      `${commandName(command)}: the peer is not reading (${queued} bytes wait to be sent)`,
    );
  }

  /**
   * A command of the peer's arrived: true when it must wait (we are throttled, or
   * earlier ones still wait: order is kept), in which case it is held here.
   */
  hold(frame: ReceivedFrame): boolean {
    if (!this.#throttled && this.#held.length === 0) return false;
    this.#held.push(frame);
    return true;
  }

  /** Past the high-water mark, stop reading the peer until our queue drains. */
  afterSend(): void {
    const queued = this.#host.queuedBytes;
    if (this.#highWater === 0 || this.#throttled || queued <= this.#highWater) return;
    this.#throttled = true;
    debug("throttled: %d bytes queued, reading paused", queued);
    for (const ch of this.#host.channels()) {
      ch.reader.pause();
      ch.writer.onDrain(this.#drainedCb);
    }
    if (this.#stallMs === 0) return;
    this.#stallTimer = setTimeout(() => {
      this.#host.stalled(
        new VfioError(
          "ETIMEDOUT",
          `the peer took none of the ${this.#host.queuedBytes} bytes queued for it in ${this.#stallMs} ms`,
        ),
      );
    }, this.#stallMs);
    this.#stallTimer.unref();
  }

  /** The connection closed: no timer, and the held commands' fds closed. */
  close(): void {
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    for (const f of this.#held.splice(0)) closeFds(f.fds);
  }

  /** A writer emptied its queue: resume once half the high-water mark is left. */
  #drained(): void {
    if (!this.#throttled || this.#host.queuedBytes > this.#highWater / 2) return;
    this.#throttled = false;
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    const channels = this.#host.channels();
    for (const ch of channels) ch.writer.onDrain(null);
    // Answer what was held back first; that may throttle us again.
    while (this.#held.length > 0 && !this.#throttled && !this.#host.closed) {
      this.#host.handle(this.#held.shift()!);
    }
    if (this.#throttled || this.#host.closed) return;
    debug("drained: reading resumed");
    for (const ch of this.#host.channels()) ch.reader.resume();
  }
}
