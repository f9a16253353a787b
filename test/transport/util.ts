/** Shared helpers of the transport tests: raw message bytes, waiting, an instrumented socket. */
import { writeSync } from "node:fs";
import type { VfioError } from "../../src/errors.js";
import {
  Command,
  HEADER_SIZE,
  VFIO_USER_F_TYPE_COMMAND,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/constants.js";
import { encodeHeader } from "../../src/protocol/header.js";
import { socketPair } from "../../src/sys/index.js";
import type { Received, StreamSocket } from "../../src/sys/types.js";
import { Connection } from "../../src/transport/index.js";
import type { FrameSink, ReceivedFrame } from "../../src/transport/message-reader.js";

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Wait (event-loop turns, not wall time) until `cond` holds; fail after many turns. */
export async function waitFor(cond: () => boolean, what: string, turns = 20000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Bytes of one message: header (size computed unless given) plus body. */
export function rawMessage(
  id: number,
  command: number,
  flags: number,
  body: Uint8Array = new Uint8Array(0),
  opts: { error?: number; size?: number } = {},
): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.byteLength);
  encodeHeader(out, {
    id,
    command,
    size: opts.size ?? out.byteLength,
    flags,
    error: opts.error ?? 0,
  });
  out.set(body, HEADER_SIZE);
  return out;
}

export { concatBytes } from "../../src/bytes.js";
export { pattern } from "../helpers/pattern.js";

/** Send all of `bytes` on a non-blocking socket, yielding to the loop when it is full. */
export async function sendAll(
  sock: StreamSocket,
  bytes: Uint8Array,
  fds: number[] = [],
): Promise<void> {
  let off = 0;
  let first = true;
  while (off < bytes.byteLength) {
    const n = sock.send([bytes.subarray(off)], first ? fds : []);
    if (n > 0) first = false;
    off += n;
    if (n === 0) await tick();
  }
}

/** Receive exactly `n` bytes (and every fd that comes with them) from a raw socket. */
export async function recvExactly(
  sock: StreamSocket,
  n: number,
  maxFds = 8,
): Promise<{ bytes: Uint8Array; fds: number[] }> {
  const buf = new Uint8Array(n);
  const fds: number[] = [];
  let off = 0;
  while (off < n) {
    const r = sock.recv(buf.subarray(off), maxFds);
    if (r === null) {
      await tick();
      continue;
    }
    if (r.bytes === 0) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r.bytes;
    fds.push(...r.fds);
  }
  return { bytes: buf, fds };
}

/** A real socket whose recv calls are recorded (sizes and fds), for partial-read assertions. */
export class RecordingSocket implements StreamSocket {
  readonly recvs: { bytes: number; fds: number }[] = [];
  constructor(readonly inner: StreamSocket) {}
  get fd(): number {
    return this.inner.fd;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  get bytesReceived(): number {
    let n = 0;
    for (const r of this.recvs) n += r.bytes;
    return n;
  }
  send(chunks: readonly Uint8Array[], fds?: readonly number[]): number {
    return this.inner.send(chunks, fds);
  }
  recv(buf: Uint8Array, maxFds: number): Received | null {
    const r = this.inner.recv(buf, maxFds);
    if (r !== null) this.recvs.push({ bytes: r.bytes, fds: r.fds.length });
    return r;
  }
  onReadable(cb: (() => void) | null): void {
    this.inner.onReadable(cb);
  }
  onWritable(cb: (() => void) | null): void {
    this.inner.onWritable(cb);
  }
  close(): void {
    this.inner.close();
  }
  detach(): number {
    return this.inner.detach();
  }
}

/** A FrameSink that collects frames and the end. */
export class CollectingSink implements FrameSink {
  readonly frames: ReceivedFrame[] = [];
  ended = false;
  error: VfioError | undefined;
  onFrame(frame: ReceivedFrame): void {
    this.frames.push(frame);
  }
  onEnd(err: VfioError | undefined): void {
    this.ended = true;
    this.error = err;
  }
}

/** Prove `fd` is a live socket end: write through it and read the bytes at `peer`. */
export async function assertFdConnectedTo(
  fd: number,
  peer: StreamSocket,
  tag: string,
): Promise<boolean> {
  const bytes = new TextEncoder().encode(tag);
  writeSync(fd, bytes);
  const got = await recvExactly(peer, bytes.byteLength, 0);
  return new TextDecoder().decode(got.bytes) === tag;
}

/** Two Connections over a socketpair. */
export function connectionPair(options = {}) {
  const [a, b] = socketPair();
  const client = new Connection(a, options);
  const server = new Connection(b, options);
  return {
    client,
    server,
    done: () => {
      client.close();
      server.close();
    },
  };
}

/** A Connection facing a raw socket we drive by hand. */
export function rawConnection(options = {}) {
  const [a, b] = socketPair();
  const conn = new Connection(a, options);
  return {
    conn,
    peer: b,
    done: () => {
      conn.close();
      b.close();
    },
  };
}

export const u8 = (...xs: number[]) => Uint8Array.from(xs);

/** Commands and message types the Connection tests send. */
export const READ = Command.VFIO_USER_REGION_READ;
export const WRITE = Command.VFIO_USER_REGION_WRITE;
export const MAP = Command.VFIO_USER_DMA_MAP;
export const CMD = VFIO_USER_F_TYPE_COMMAND;
export const REPLY = VFIO_USER_F_TYPE_REPLY;
