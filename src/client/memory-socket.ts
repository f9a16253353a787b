import { VfioError } from "../errors.js";
import { closeFd, dupFd } from "../sys/index.js";
import type { Received, StreamSocket } from "../sys/types.js";

/** Bytes sent by one send() and the fds that travel with their first byte. */
interface Segment {
  bytes: Uint8Array;
  fds: number[];
}

/**
 * One end of an in-process stream pair that honours the StreamSocket contract without
 * a kernel socket: messages keep their boundaries-free byte-stream semantics, fds are
 * duplicated at send time as SCM_RIGHTS does (the sender keeps its own), readiness is
 * level-triggered (the readable callback runs again while data remains), and a
 * closed peer reads as EOF. Used by the loopback backend so a driver and an
 * in-process device talk the real protocol with no socket in between.
 */
class MemorySocket implements StreamSocket {
  peer: MemorySocket | null = null;
  readonly #queue: Segment[] = [];
  #readable: (() => void) | null = null;
  #scheduled = false;
  #closed = false;
  #eof = false;
  readonly fd = -1;

  get closed(): boolean {
    return this.#closed;
  }

  send(chunks: readonly Uint8Array[], fds?: readonly number[]): number {
    if (this.#closed) throw new VfioError("EBADF", "send on a closed in-memory socket");
    const peer = this.peer;
    if (peer === null || peer.#closed) throw new VfioError("EPIPE", "the in-memory peer is closed");
    let total = 0;
    for (const c of chunks) total += c.byteLength;
    if (total === 0) return 0;
    const bytes = new Uint8Array(total);
    let pos = 0;
    for (const c of chunks) {
      bytes.set(c, pos);
      pos += c.byteLength;
    }
    const dups: number[] = [];
    try {
      for (const fd of fds ?? []) dups.push(dupFd(fd));
    } catch (err) {
      for (const d of dups) closeFd(d);
      throw err;
    }
    peer.#queue.push({ bytes, fds: dups });
    peer.#kick();
    return total;
  }

  recv(buf: Uint8Array, maxFds: number): Received | null {
    if (this.#closed) throw new VfioError("EBADF", "recv on a closed in-memory socket");
    const head = this.#queue[0];
    if (head === undefined) return this.#eof ? { bytes: 0, fds: [] } : null;
    const fds = head.fds;
    head.fds = [];
    if (fds.length > maxFds) {
      for (const fd of fds) closeFd(fd);
      throw new VfioError(
        "EPROTO",
        `received ${fds.length} fds, more than the ${maxFds} accepted (MSG_CTRUNC)`,
      );
    }
    const n = Math.min(buf.byteLength, head.bytes.byteLength);
    buf.set(head.bytes.subarray(0, n));
    if (n === head.bytes.byteLength) this.#queue.shift();
    else head.bytes = head.bytes.subarray(n);
    return { bytes: n, fds };
  }

  onReadable(cb: (() => void) | null): void {
    this.#readable = cb;
    if (cb !== null) this.#kick();
  }

  onWritable(cb: (() => void) | null): void {
    // Always writable: the queue is unbounded.
    if (cb !== null) setImmediate(() => (this.#closed ? undefined : cb()));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readable = null;
    for (const s of this.#queue.splice(0)) for (const fd of s.fds) closeFd(fd);
    const peer = this.peer;
    this.peer = null;
    if (peer !== null) {
      peer.#eof = true;
      peer.#kick();
    }
  }

  detach(): number {
    throw new VfioError("EINVAL", "an in-memory socket has no fd to detach");
  }

  /** Level-triggered readiness: call the reader while there is something to read. */
  #kick(): void {
    if (this.#scheduled || this.#readable === null) return;
    if (this.#queue.length === 0 && !this.#eof) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const cb = this.#readable;
      if (cb === null || this.#closed) return;
      cb();
      this.#kick();
    });
  }
}

/** A connected pair of in-process stream sockets. */
export function memorySocketPair(): [StreamSocket, StreamSocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
