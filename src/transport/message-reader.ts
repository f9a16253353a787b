import { Errno, errnoOf, VfioError } from "../errors.js";
import { HEADER_SIZE } from "../protocol/constants.js";
import {
  checkMessageSize,
  decodeHeader,
  type Header,
  peekMessageSize,
} from "../protocol/header.js";
import type { Received, StreamSocket } from "../sys/types.js";
import { BusyPoll, checkPollUs } from "./busy-poll.js";
import { closeFds } from "./fds.js";
import { EMPTY_BODY, type Frame, NO_FDS } from "./frame.js";
import {
  checkLimits,
  DEFAULT_MAX_FDS,
  DEFAULT_MAX_MESSAGE_SIZE,
  type Limits,
  MAX_FDS_PER_MESSAGE,
} from "./limits.js";

/** Receives what a MessageReader produces. Called synchronously from the readable callback. */
export interface FrameSink {
  /** One complete message; the sink now owns `frame.fds`. Must not throw. */
  onFrame(frame: ReceivedFrame): void;
  /**
   * The reader stopped for good (it no longer polls the socket; closing the socket is the
   * owner's job). `err` is undefined for a clean EOF at a message boundary.
   */
  onEnd(err: VfioError | undefined): void;
}

/** A frame as the reader hands it out: it remembers which sink (channel) received it. */
export interface ReceivedFrame extends Frame {
  readonly via: FrameSink;
}

/** Options of a MessageReader: limits, slab size and busy polling. */
export interface ReaderOptions extends Partial<Limits> {
  /** Size of each receive slab; default 64 KiB. Messages over a quarter of it get their own buffer. */
  slabSize?: number;
  /** Busy-poll the socket this many µs after each wake-up (see BusyPoll); default 0, off. */
  pollUs?: number;
  /** Give up on a message that stops arriving for this long (ETIMEDOUT); default 30 s, 0 never. */
  partialMessageTimeoutMs?: number;
}

const DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS = 30_000;

const DEFAULT_SLAB_SIZE = 64 * 1024;
/** Several recvs per wakeup only while they fill the buffer; this bounds one wakeup. */
const MAX_RECVS_PER_WAKEUP = 16;

const READING = 0;
const IDLE = 1;
const ENDED = 2;

/**
 * Reassembles vfio-user frames from a StreamSocket.
 *
 * Buffering. Bytes land in a slab (64 KiB). Complete messages are handed out as views
 * into it (no copy), and bytes that were handed out are never written again: when the
 * slab runs short, a new one is started (the old one lives on only through its views),
 * or, if nothing was handed out from it, the partial message is moved to the front.
 * A message larger than a quarter of the slab gets a buffer of exactly its size as
 * soon as its size is known, and the rest of it is received straight into that buffer,
 * so a large body is never copied beyond the few bytes already buffered.
 *
 * Which message owns received fds. Linux ends a recvmsg on a stream socket right after
 * the first skb that carried SCM_RIGHTS (unix_stream_read_generic stops once it has
 * detached fds), and a sender's fds ride on the first skb of its sendmsg. A recv may
 * still begin with bytes from earlier fd-less sendmsgs, so the fds do NOT belong to the
 * message at the start of the recv. Rule: fds received by one recv belong to the message
 * that contains the LAST byte of that recv. This is exact for any sender that starts a
 * sendmsg carrying fds at the first byte of the message they belong to and puts no
 * other message start in it (our MessageWriter, QEMU, libvfio-user). If a peer sends
 * fds later within a message, they still land on that message.
 */
export class MessageReader {
  private readonly socket: StreamSocket;
  private readonly sink: FrameSink;
  private maxMessageSize: number;
  private maxFds: number;
  /**
   * One more than allowed, so an excess is seen here even where CMSG alignment padding
   * lets the kernel deliver more fds than asked for without MSG_CTRUNC.
   */
  private recvFds: number;
  private readonly slabSize: number;
  private readonly bigThreshold: number;
  private readonly minFree: number;
  private slab: Uint8Array;
  /** Views into `slab` were handed out: its bytes before `start` must stay untouched. */
  private shared = false;
  /** First byte of the message in progress in `slab`. */
  private head = 0;
  /** End of received bytes in `slab`. */
  private end = 0;
  /** Dedicated buffer of a large message in progress, filled up to `bigFilled`. */
  private big: Uint8Array | null = null;
  private bigFilled = 0;
  /** Fds that arrived for the message in progress. */
  private curFds: number[] = NO_FDS;
  private state = IDLE;
  /** Flow control: no more recvs until resume() (see pause()). */
  private paused = false;
  private readonly busy: BusyPoll | null;
  /** Timer of the message in progress (see partialMessageTimeoutMs), armed only while one is. */
  private readonly partialMs: number;
  private partialTimer: NodeJS.Timeout | null = null;
  /** Bytes received so far: the timer checks whether the message made progress. */
  private received = 0;
  private receivedAtArm = 0;
  private readonly readableCb = (): void => {
    this.busy?.woke();
    this.readPolled();
  };

  constructor(socket: StreamSocket, sink: FrameSink, options: ReaderOptions = {}) {
    checkLimits(options);
    this.socket = socket;
    this.sink = sink;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxFds = options.maxFds ?? DEFAULT_MAX_FDS;
    this.recvFds = Math.min(this.maxFds + 1, MAX_FDS_PER_MESSAGE);
    const slabSize = options.slabSize ?? DEFAULT_SLAB_SIZE;
    if (!Number.isInteger(slabSize) || slabSize < 256) {
      throw new RangeError(`slabSize must be an integer >= 256, got ${slabSize}`);
    }
    this.slabSize = slabSize;
    this.bigThreshold = slabSize >>> 2;
    this.minFree = Math.min(2048, slabSize >>> 3);
    this.slab = new Uint8Array(slabSize);
    const partialMs = options.partialMessageTimeoutMs ?? DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS;
    if (!Number.isSafeInteger(partialMs) || partialMs < 0) {
      throw new RangeError(`partialMessageTimeoutMs must be an integer >= 0, got ${partialMs}`);
    }
    this.partialMs = partialMs;
    this.busy = BusyPoll.create(
      socket,
      checkPollUs(options.pollUs),
      () => this.readPolled(),
      () => this.state === READING && !this.paused,
    );
  }

  /** Start polling the socket for messages. */
  start(): void {
    if (this.state !== IDLE) return;
    this.state = READING;
    if (!this.paused) this.socket.onReadable(this.readableCb);
  }

  /** Stop for good without telling the sink; closes fds held for a partial message. */
  stop(): void {
    if (this.state === ENDED) return;
    this.finish();
  }

  get ended(): boolean {
    return this.state === ENDED;
  }

  /**
   * Flow control: receive nothing more until resume(). Messages already received
   * are still handed out, so a sink may call this from onFrame; the peer's further
   * bytes wait in the kernel, and its sends then block or queue on its side.
   */
  pause(): void {
    if (this.paused || this.state === ENDED) return;
    this.paused = true;
    if (this.state === READING && !this.socket.closed) this.socket.onReadable(null);
  }

  /** Undo pause(). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.state === READING) this.socket.onReadable(this.readableCb);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Change the limits (e.g. after negotiation); they apply to messages not yet sized. */
  setLimits(limits: Partial<Limits>): void {
    checkLimits(limits);
    if (limits.maxMessageSize !== undefined) this.maxMessageSize = limits.maxMessageSize;
    if (limits.maxFds !== undefined) {
      this.maxFds = limits.maxFds;
      this.recvFds = Math.min(limits.maxFds + 1, MAX_FDS_PER_MESSAGE);
    }
  }

  /** Receive what is there; then, with pollUs, spin for what comes next. */
  private readPolled(): void {
    this.readSome();
    this.watchPartial();
    this.busy?.afterRead();
  }

  /**
   * A message in progress arms a timer; a later check that finds no byte arrived since
   * ends the connection. Cheap on the common path: one comparison when no message is
   * in progress and the timer is off. Paused (flow control) is our doing, not the peer's.
   */
  private watchPartial(): void {
    if (this.partialMs === 0) return;
    const partial = this.state === READING && (this.big !== null || this.end !== this.head);
    if (!partial) {
      if (this.partialTimer !== null) {
        clearTimeout(this.partialTimer);
        this.partialTimer = null;
      }
      return;
    }
    if (this.partialTimer !== null) return;
    this.receivedAtArm = this.received;
    this.partialTimer = setTimeout(() => {
      this.partialTimer = null;
      if (this.state !== READING) return;
      if (this.received === this.receivedAtArm && !this.paused) {
        const partialBytes = this.big !== null ? this.bigFilled : this.end - this.head;
        this.fail(
          new VfioError(
            "ETIMEDOUT",
            `peer stalled mid-message: ${partialBytes} bytes of a message, then nothing for ${this.partialMs} ms`,
          ),
        );
        return;
      }
      this.watchPartial();
    }, this.partialMs);
    this.partialTimer.unref();
  }

  private readSome(): void {
    for (let round = 0; round < MAX_RECVS_PER_WAKEUP; round++) {
      if (this.paused) return;
      let target: Uint8Array;
      if (this.big !== null) {
        target = this.big.subarray(this.bigFilled);
      } else {
        this.makeRoom();
        target = this.slab.subarray(this.end);
      }
      let r: Received | null;
      try {
        r = this.socket.recv(target, this.recvFds);
      } catch (err) {
        const errno = errnoOf(err);
        if (errno === Errno.ECONNRESET) this.onEof(true);
        else
          this.fail(
            new VfioError(errno, `receive failed: ${(err as Error).message}`, { cause: err }),
          );
        return;
      }
      if (r === null) return;
      if (r.bytes === 0) {
        this.onEof();
        return;
      }
      this.received += r.bytes;
      if (this.big !== null) this.bigReceived(r.bytes, r.fds);
      else this.slabReceived(r.bytes, r.fds);
      if (this.state !== READING) return;
      // A short read almost always means the socket is drained; the poll is
      // level-triggered, so if it is not we are called again. Saves the EAGAIN syscall.
      if (r.bytes < target.byteLength) return;
    }
  }

  private slabReceived(n: number, fds: number[]): void {
    const slab = this.slab;
    const recvEnd = this.end + n;
    this.end = recvEnd;
    let carry = this.curFds;
    let late = fds;
    this.curFds = NO_FDS;
    for (;;) {
      const at = this.head;
      const avail = recvEnd - at;
      if (avail < 8) break;
      const size = peekMessageSize(slab, at);
      const bad = sizeError(size, this.maxMessageSize);
      if (bad !== undefined) {
        closeFds(late);
        this.violation(carry, bad);
        return;
      }
      if (avail < size) {
        if (size > this.bigThreshold) {
          this.enterBig(size, join(carry, late));
          this.checkFdCount();
          return;
        }
        break;
      }
      const next = at + size;
      this.head = next;
      let msgFds = carry;
      carry = NO_FDS;
      if (next === recvEnd && late.length > 0) {
        msgFds = join(msgFds, late);
        late = NO_FDS;
      }
      if (!this.deliver(slab, at, size, msgFds)) {
        closeFds(late);
        return;
      }
    }
    this.curFds = join(carry, late);
    this.checkFdCount();
  }

  private bigReceived(n: number, fds: number[]): void {
    const big = this.big!;
    this.bigFilled += n;
    if (fds.length > 0) {
      this.curFds = join(this.curFds, fds);
      if (!this.checkFdCount()) return;
    }
    if (this.bigFilled < big.byteLength) return;
    const msgFds = this.curFds;
    this.curFds = NO_FDS;
    this.big = null;
    this.bigFilled = 0;
    this.deliver(big, 0, big.byteLength, msgFds);
  }

  /** Move the partial message into its own buffer of exactly its size. */
  private enterBig(size: number, fds: number[]): void {
    const big = new Uint8Array(size);
    big.set(this.slab.subarray(this.head, this.end));
    this.bigFilled = this.end - this.head;
    this.big = big;
    this.curFds = fds;
    if (this.shared) this.head = this.end;
    else this.head = this.end = 0;
  }

  /** Make sure the slab has room to receive into, and to finish the message in progress. */
  private makeRoom(): void {
    const len = this.end - this.head;
    if (len === 0 && !this.shared) {
      this.head = this.end = 0;
      return;
    }
    // The message in progress is at most bigThreshold (else it is in `big`), so it fits.
    const need = len >= 8 ? peekMessageSize(this.slab, this.head) - len : this.minFree;
    if (this.slab.byteLength - this.end >= need) return;
    if (this.shared) {
      const slab = new Uint8Array(this.slabSize);
      slab.set(this.slab.subarray(this.head, this.end));
      this.slab = slab;
      this.shared = false;
    } else {
      this.slab.copyWithin(0, this.head, this.end);
    }
    this.head = 0;
    this.end = len;
  }

  /** Hand one complete message to the sink; false if the reader stopped meanwhile. */
  private deliver(buf: Uint8Array, at: number, size: number, fds: number[]): boolean {
    if (fds.length > this.maxFds) {
      this.violation(fds, fdCountError(fds.length, this.maxFds));
      return false;
    }
    let header: Header;
    try {
      header = decodeHeader(buf, at);
    } catch (err) {
      this.violation(fds, err as VfioError);
      return false;
    }
    let body = EMPTY_BODY;
    if (size > HEADER_SIZE) {
      body = buf.subarray(at + HEADER_SIZE, at + size);
      if (buf === this.slab) this.shared = true;
    }
    this.sink.onFrame({ header, body, fds, via: this.sink });
    return this.state === READING;
  }

  private checkFdCount(): boolean {
    if (this.curFds.length <= this.maxFds) return true;
    this.violation(NO_FDS, fdCountError(this.curFds.length, this.maxFds));
    return false;
  }

  /**
   * The peer is gone. A reset (it closed with our data unread) is still an error even
   * at a message boundary; a plain EOF there is the clean end.
   */
  private onEof(reset = false): void {
    const partial = this.big !== null ? this.bigFilled : this.end - this.head;
    if (partial === 0) {
      if (reset) {
        this.fail(new VfioError("ECONNRESET", "connection reset by peer"));
        return;
      }
      this.finish();
      this.sink.onEnd(undefined);
      return;
    }
    const expected =
      this.big !== null
        ? `${this.big.byteLength}`
        : partial >= 8
          ? `${peekMessageSize(this.slab, this.head)}`
          : "an unknown number of";
    this.fail(
      new VfioError(
        "ECONNRESET",
        `peer disconnected mid-message (${reset ? "connection reset; " : ""}received ${partial} of ${expected} bytes)`,
      ),
    );
  }

  private violation(fds: number[], err: VfioError): void {
    closeFds(fds);
    this.fail(err);
  }

  private fail(err: VfioError): void {
    if (this.state === ENDED) return;
    this.finish();
    this.sink.onEnd(err);
  }

  private finish(): void {
    this.state = ENDED;
    if (this.partialTimer !== null) {
      clearTimeout(this.partialTimer);
      this.partialTimer = null;
    }
    if (!this.socket.closed) this.socket.onReadable(null);
    closeFds(this.curFds);
    this.curFds = NO_FDS;
    this.big = null;
    this.head = this.end = 0;
  }
}

function join(a: number[], b: number[]): number[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  return a.concat(b);
}

/** Why a message of `size` bytes cannot be received, if it cannot. */
function sizeError(size: number, max: number): VfioError | undefined {
  if (size > max) {
    return new VfioError(
      "EMSGSIZE",
      `framing violation: message size ${size} exceeds the limit of ${max} bytes`,
    );
  }
  try {
    checkMessageSize(size);
    return undefined;
  } catch (err) {
    return err as VfioError;
  }
}

function fdCountError(n: number, max: number): VfioError {
  return new VfioError(
    "EPROTO",
    `framing violation: ${n} fds arrived with one message, more than the limit of ${max}`,
  );
}
