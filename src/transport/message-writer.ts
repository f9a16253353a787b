import { concatBytes } from "../bytes.js";
import { errnoOf, VfioError } from "../errors.js";
import { HEADER_SIZE } from "../protocol/constants.js";
import { writeHeader } from "../protocol/header.js";
import type { StreamSocket } from "../sys/types.js";
import { closeFds } from "./fds.js";
import { type Body, bodyLength, NO_FDS } from "./frame.js";
import { MAX_FDS_PER_MESSAGE, MAX_WIRE_SIZE } from "./limits.js";

/** Chunks per sendmsg when several queued messages are flushed together. */
const MAX_IOV = 64;

/**
 * Messages up to this size are copied whole into one preallocated buffer and sent as
 * one chunk. Copying a few hundred bytes is cheaper than what it avoids: V8 keeps small
 * typed arrays (such as a freshly encoded reply body) inside its heap and must move each
 * one to a malloc'd backing store before native code may see its bytes.
 */
const COALESCE_MAX = 4096;

/** A message waiting in the queue; `sent` bytes of it are already in the kernel. */
interface Pending {
  /** Header bytes followed by the body chunks. */
  chunks: Uint8Array[];
  size: number;
  sent: number;
  fds: readonly number[];
  closeFds: boolean;
}

/**
 * Writes frames to a StreamSocket in order.
 *
 * Fast path: with nothing queued a message goes out in one sendmsg right away: a small
 * one copied whole into a preallocated buffer, a larger one as the header from a
 * scratch buffer plus the body chunks as given (no copy). Whatever the kernel does not
 * take is queued and flushed from the writable callback.
 *
 * Fds travel with the first byte of their message and never again. A sendmsg that
 * carries fds starts exactly at its message and contains nothing of any other message:
 * that is what lets the reader on the other side tie fds to the right message (see
 * MessageReader). Queued fd-less messages are flushed several per sendmsg.
 *
 * Bodies are referenced, not copied, while queued: do not modify a body after handing
 * it over. Fds stay the caller's unless `closeFdsAfterSend` is set, in which case the
 * writer closes them once they are in the kernel (or when the queue is dropped).
 */
export class MessageWriter {
  private readonly socket: StreamSocket;
  private readonly onError: (err: VfioError) => void;
  private queue: Pending[] = [];
  private head = 0;
  private queued = 0;
  private failed = false;
  private waiting = false;
  private readonly scratchHeader = new Uint8Array(HEADER_SIZE);
  private readonly iov2: Uint8Array[] = [this.scratchHeader, this.scratchHeader];
  /** Outside the V8 heap from the start (an explicit ArrayBuffer), so it is never moved. */
  private readonly small = new Uint8Array(new ArrayBuffer(COALESCE_MAX));
  private readonly iov1: Uint8Array[] = [this.small];
  private readonly writableCb = (): void => this.flush();
  private drainCb: (() => void) | null = null;

  /** `onError` is called once, synchronously, when a send fails (EPIPE, ECONNRESET, ...). */
  constructor(socket: StreamSocket, onError: (err: VfioError) => void) {
    this.socket = socket;
    this.onError = onError;
  }

  /** Bytes accepted by write() but not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.queued;
  }

  /**
   * `cb` runs each time a queue that had built up has been handed to the kernel in
   * full (not for messages that went out at once): the moment to resume producing.
   */
  onDrain(cb: (() => void) | null): void {
    this.drainCb = cb;
  }

  /**
   * Queue one message. Throws only for messages that cannot be framed (too big, too many
   * fds; fds to close are closed even then); a broken socket is reported through
   * `onError`, and later writes are dropped.
   */
  write(
    id: number,
    command: number,
    flags: number,
    error: number,
    body: Body,
    fds: readonly number[] = NO_FDS,
    closeFdsAfterSend = false,
  ): void {
    if (!(body instanceof Uint8Array) && body.length >= MAX_IOV) body = concatBytes(body); // rare: more chunks than one sendmsg should carry
    const size = HEADER_SIZE + bodyLength(body);
    if (size > MAX_WIRE_SIZE || fds.length > MAX_FDS_PER_MESSAGE) {
      if (closeFdsAfterSend) closeFds(fds);
      throw size > MAX_WIRE_SIZE
        ? new VfioError("EMSGSIZE", `message of ${size} bytes does not fit the 32-bit size field`)
        : new VfioError("EINVAL", `${fds.length} fds in one message; the kernel allows 253`);
    }
    if (this.failed) {
      if (closeFdsAfterSend) closeFds(fds);
      return;
    }
    const idle = this.head === this.queue.length;
    const small = idle && size <= COALESCE_MAX;
    const hdr = small ? this.small : this.scratchHeader;
    writeHeader(hdr, id, command, size, flags, error);
    if (!idle) {
      // Behind queued messages: wait in line.
      this.enqueue(hdr, body, size, 0, fds, closeFdsAfterSend);
      return;
    }
    // Nothing queued: try to send it whole now.
    const iov = small ? this.packSmall(body, size) : this.headerAndBody(body);
    let n: number;
    try {
      n = this.socket.send(iov, fds);
    } catch (err) {
      if (closeFdsAfterSend) closeFds(fds);
      this.fail(err);
      return;
    } finally {
      this.iov2[1] = this.scratchHeader; // keep no reference to the body
    }
    if (n === size) {
      if (closeFdsAfterSend) closeFds(fds);
      return;
    }
    // enqueue copies the header (the first 16 bytes of `small`, for a small message);
    // the body stays referenced.
    this.enqueue(hdr.subarray(0, HEADER_SIZE), body, size, n, fds, closeFdsAfterSend);
    if (n > 0 && closeFdsAfterSend) closeFds(fds);
    this.waitWritable();
  }

  /** A small message as one chunk: the body copied behind its header in `small`. */
  private packSmall(body: Body, size: number): Uint8Array[] {
    const buf = this.small;
    if (body instanceof Uint8Array) {
      if (body.byteLength > 0) buf.set(body, HEADER_SIZE);
    } else {
      let at = HEADER_SIZE;
      for (const c of body) {
        buf.set(c, at);
        at += c.byteLength;
      }
    }
    this.iov1[0] = size === COALESCE_MAX ? buf : buf.subarray(0, size);
    return this.iov1;
  }

  /** A larger message as the header in `scratchHeader` plus the body chunks as given. */
  private headerAndBody(body: Body): Uint8Array[] {
    const hdr = this.scratchHeader;
    if (!(body instanceof Uint8Array)) return [hdr, ...body];
    this.iov2[1] = body;
    return this.iov2;
  }

  /** Drop everything queued (closing fds we own) and stop; the socket is the owner's. */
  close(): void {
    this.failed = true;
    this.dropQueue();
  }

  private enqueue(
    hdr: Uint8Array,
    body: Body,
    size: number,
    sent: number,
    fds: readonly number[],
    closeAfter: boolean,
  ): void {
    const chunks: Uint8Array[] = [hdr.slice()];
    if (body instanceof Uint8Array) {
      if (body.byteLength > 0) chunks.push(body);
    } else {
      for (const c of body) if (c.byteLength > 0) chunks.push(c);
    }
    this.queue.push({
      chunks,
      size,
      sent,
      fds: sent > 0 ? NO_FDS : fds,
      closeFds: sent > 0 ? false : closeAfter,
    });
    this.queued += size - sent;
  }

  private waitWritable(): void {
    if (this.waiting) return;
    this.waiting = true;
    this.socket.onWritable(this.writableCb);
  }

  private flush(): void {
    this.waiting = false;
    while (!this.failed && this.head < this.queue.length) {
      const first = this.queue[this.head]!;
      const iov: Uint8Array[] = [];
      let fds: readonly number[] = NO_FDS;
      let offered = 0;
      if (first.sent === 0 && first.fds.length > 0) {
        // Alone in its sendmsg, starting at its first byte: see the class comment.
        fds = first.fds;
        for (const c of first.chunks) iov.push(c);
        offered = first.size;
      } else {
        for (let i = this.head; i < this.queue.length && iov.length < MAX_IOV; i++) {
          const m = this.queue[i]!;
          if (i > this.head && m.fds.length > 0) break;
          let skip = i === this.head ? m.sent : 0;
          for (const c of m.chunks) {
            if (skip >= c.byteLength) {
              skip -= c.byteLength;
              continue;
            }
            iov.push(skip > 0 ? c.subarray(skip) : c);
            offered += c.byteLength - skip;
            skip = 0;
          }
        }
      }
      let n: number;
      try {
        n = this.socket.send(iov, fds);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (n === 0) {
        this.waitWritable();
        return;
      }
      this.advance(n);
      if (n < offered) {
        this.waitWritable();
        return;
      }
    }
    this.socket.onWritable(null);
    if (!this.failed) this.drainCb?.();
  }

  /** Account `n` bytes taken by the kernel, retiring messages that are now fully sent. */
  private advance(n: number): void {
    this.queued -= n;
    while (n > 0) {
      const m = this.queue[this.head]!;
      if (m.sent === 0 && m.closeFds) closeFds(m.fds);
      m.fds = NO_FDS;
      m.closeFds = false;
      const left = m.size - m.sent;
      if (n < left) {
        m.sent += n;
        return;
      }
      n -= left;
      this.queue[this.head++] = undefined as unknown as Pending;
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.dropQueue();
    this.onError(
      err instanceof VfioError
        ? err
        : new VfioError(errnoOf(err), `send failed: ${(err as Error).message}`, { cause: err }),
    );
  }

  private dropQueue(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const m = this.queue[i]!;
      if (m.closeFds) closeFds(m.fds);
    }
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    if (this.waiting) {
      this.waiting = false;
      if (!this.socket.closed) this.socket.onWritable(null);
    }
  }
}
