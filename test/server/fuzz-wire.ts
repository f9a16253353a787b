/**
 * A wire-level vfio-user peer for the socket fuzz test: it sends any header and body
 * (reply-typed messages, reserved flags, lying size fields) and records every frame the
 * server sends back, so a test can check replies one by one instead of trusting the
 * transport's request table to match them.
 */
import { Errno } from "../../src/errors.js";
import {
  HEADER_SIZE,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_TYPE_MASK,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/index.js";
import { closeFd, connectUnix, type StreamSocket } from "../../src/sys/index.js";
import { MessageReader, MessageWriter, type ReceivedFrame } from "../../src/transport/index.js";

/** A reply the server sent, copied out of the reader's slab. */
export interface WireReply {
  id: number;
  command: number;
  flags: number;
  error: number;
  size: number;
  body: Uint8Array;
  numFds: number;
}

export class WireClient {
  readonly socket: StreamSocket;
  readonly replies: WireReply[] = [];
  /** Server-to-client commands seen (DMA_READ/DMA_WRITE); each got an EINVAL error reply. */
  serverCommands = 0;
  #writer: MessageWriter;
  #reader: MessageReader;
  #ended = false;
  #endError: Error | undefined;
  #wakeups: (() => void)[] = [];

  constructor(path: string) {
    this.socket = connectUnix(path);
    this.#writer = new MessageWriter(this.socket, (err) => this.#end(err));
    this.#reader = new MessageReader(this.socket, {
      onFrame: (f) => this.#onFrame(f),
      onEnd: (err) => this.#end(err),
    });
    this.#reader.start();
  }

  /** True once the server closed the connection (or we did). */
  get ended(): boolean {
    return this.#ended;
  }

  get endError(): Error | undefined {
    return this.#endError;
  }

  /** One message with exactly these header fields; the size field is computed. */
  send(
    id: number,
    command: number,
    flags: number,
    body: Uint8Array,
    fds: readonly number[] = [],
    error = 0,
  ): void {
    this.#writer.write(id, command, flags, error, body, fds);
  }

  /** Bytes straight onto the socket (a lying header); the writer queue must be empty. */
  sendRaw(bytes: Uint8Array): void {
    if (this.#writer.queuedBytes !== 0) throw new Error("sendRaw behind queued messages");
    let at = 0;
    while (at < bytes.byteLength) {
      const n = this.socket.send([bytes.subarray(at)]);
      if (n === 0) throw new Error("socket full while sending a raw header");
      at += n;
    }
  }

  /** Resolves with the reply to `id`, or undefined if the connection ends first. */
  async reply(id: number): Promise<WireReply | undefined> {
    for (;;) {
      const r = this.replies.find((x) => x.id === id);
      if (r !== undefined || this.#ended) return r;
      await new Promise<void>((w) => this.#wakeups.push(w));
    }
  }

  /** Resolves once the connection has ended. */
  async end(): Promise<void> {
    while (!this.#ended) await new Promise<void>((w) => this.#wakeups.push(w));
  }

  close(): void {
    this.#end(undefined);
  }

  #onFrame(f: ReceivedFrame): void {
    for (const fd of f.fds) closeFd(fd);
    const h = f.header;
    if ((h.flags & VFIO_USER_F_TYPE_MASK) === VFIO_USER_F_TYPE_REPLY) {
      this.replies.push({
        id: h.id,
        command: h.command,
        flags: h.flags,
        error: h.error,
        size: h.size,
        body: f.body.slice(),
        numFds: f.fds.length,
      });
      this.#wake();
      return;
    }
    // The device may DMA to windows mapped without an fd; we have no memory behind them.
    this.serverCommands++;
    this.#writer.write(
      h.id,
      h.command,
      VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
      Errno.EINVAL,
      new Uint8Array(0),
    );
  }

  #end(err: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endError = err;
    this.#reader.stop();
    this.#writer.close();
    this.socket.close();
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#wakeups.splice(0)) w();
  }
}

/** A 16-byte header whose size field says `size`, whatever follows. */
export function rawHeader(id: number, command: number, size: number, flags: number): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(0, id, true);
  v.setUint16(2, command, true);
  v.setUint32(4, size >>> 0, true);
  v.setUint32(8, flags >>> 0, true);
  return b;
}
