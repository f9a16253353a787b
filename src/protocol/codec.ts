import { ProtocolError } from "./protocol-error.js";
import { Reader } from "./reader.js";
import { Writer } from "./writer.js";

/**
 * Which body layout DMA_READ / DMA_WRITE use. "spec" is the 0.9.2 spec (and libvfio-user):
 * `address u64, count u64, data`. "qemu" is QEMU's hw/vfio-user client (VFIOUserDMARW):
 * `address u64, count u32, data` with data at offset 12 and the message padded by 4 bytes
 * to sizeof(VFIOUserDMARW) + count; its DMA_WRITE reply is header-only.
 */
export type DmaRwLayout = "spec" | "qemu";

/** Options every encoder takes. */
export interface EncodeOptions {
  /** Layout of DMA_READ / DMA_WRITE bodies; default "spec". */
  dmaRwLayout?: DmaRwLayout;
}

/** Options every decoder takes: the layout and the negotiated transfer limit. */
export interface DecodeOptions extends EncodeOptions {
  /**
   * The negotiated max_data_xfer_size of the receiving side. When set, a REGION_READ/WRITE,
   * DMA_READ/WRITE or MIG_DATA_READ/WRITE request whose count exceeds it fails with E2BIG
   * before anything is allocated for it.
   */
  maxDataXferSize?: number;
}

/** What a decoder knows besides the body bytes. */
export interface DecodeContext extends DecodeOptions {
  /** Number of file descriptors that arrived with the message (SCM_RIGHTS). */
  numFds: number;
}

/**
 * The context for one message's decoders. A fixed-shape literal rather than a spread
 * of the options: it is built for every message, and a spread costs V8 a map
 * transition each time.
 */
export function decodeContext(numFds: number, opts?: DecodeOptions): DecodeContext {
  return { numFds, maxDataXferSize: opts?.maxDataXferSize, dmaRwLayout: opts?.dmaRwLayout };
}

/** One direction (request or reply) of one command. */
export interface BodyCodec<T> {
  /** Exact body size `write` will produce; validates what it needs to compute it. */
  size(v: T, o: EncodeOptions): number;
  /** Writes the body; `w` has exactly `size(v)` bytes of room. */
  write(w: Writer, v: T, o: EncodeOptions): void;
  /** Decode a whole body; must consume every byte or fail. */
  read(r: Reader, ctx: DecodeContext): T;
  /**
   * Optional hot-path decoder (REGION_READ/WRITE): the value `read` would return, or
   * undefined for anything it does not fully vouch for, which then goes through `read`,
   * so validation and error messages stay those of `read`.
   */
  fastRead?(body: Uint8Array, ctx: DecodeContext): T | undefined;
  /** Optional hot-path encoder: the bytes `write` would produce, or undefined to use it. */
  fastEncode?(v: T): Uint8Array | undefined;
}

/** Both directions of a command, plus the argsz rule of its reply. */
export interface CommandCodec<Req, Rep> {
  readonly request: BodyCodec<Req>;
  readonly reply: BodyCodec<Rep>;
  /**
   * For commands whose request carries argsz: make `reply` obey the request's argsz (set
   * argsz to the size the full reply needs; keep only the fixed part when that exceeds the
   * client's argsz). Absent for commands without argsz.
   */
  fitReply?(requestArgsz: number, reply: Rep): Rep;
}

export function encodeBody<T>(codec: BodyCodec<T>, v: T, o: EncodeOptions = {}): Uint8Array {
  if (codec.fastEncode !== undefined) {
    const b = codec.fastEncode(v);
    if (b !== undefined) return b;
  }
  const w = Writer.alloc(codec.size(v, o));
  codec.write(w, v, o);
  return w.finish();
}

export function decodeBody<T>(
  codec: BodyCodec<T>,
  name: string,
  direction: "request" | "reply",
  body: Uint8Array,
  ctx: DecodeContext,
): T {
  if (codec.fastRead !== undefined) {
    const v = codec.fastRead(body, ctx);
    if (v !== undefined) return v;
  }
  // Error messages name the message; the text is built only when a Reader is needed.
  const r = new Reader(body, `${name} ${direction}`);
  const v = codec.read(r, ctx);
  r.end();
  return v;
}

/** Fail unless no fds came with a message that carries none. */
export function expectNoFds(r: Reader, ctx: DecodeContext): void {
  if (ctx.numFds !== 0) r.fail(`${ctx.numFds} unexpected file descriptor(s)`);
}

/** Request argsz must cover at least the fixed part of the reply (spec "Message sizes"). */
export function expectArgsz(r: Reader, argsz: number, min: number): void {
  if (argsz < min) r.fail(`argsz ${argsz} is smaller than the ${min}-byte reply`);
}

/** A data transfer count against the negotiated limit (spec "Read and Write Operations"). */
export function expectXfer(r: Reader, ctx: DecodeContext, count: number, field: string): void {
  const max = ctx.maxDataXferSize;
  if (max !== undefined && count > max) {
    r.fail(`${field} ${count} exceeds max_data_xfer_size ${max}`, "E2BIG");
  }
}

const U64_END = 1n << 64n;

/** Fail if [start, start+len) wraps past 2^64. */
export function expectNoWrap(r: Reader, start: bigint, len: bigint, what: string): void {
  if (start + len > U64_END) r.fail(`${what} [${start}, +${len}) wraps past 2^64`);
}

export { isPowerOfTwo } from "../bits.js";

/**
 * Bytes of a dirty bitmap covering `length` bytes at `pageSize` granularity: one bit per
 * page, rounded up to whole u64 words (libvfio-user get_bitmap_size, kernel
 * DIRTY_BITMAP_BYTES). `pageSize` must be positive.
 */
export function dirtyBitmapSize(length: bigint, pageSize: bigint): bigint {
  if (pageSize <= 0n) throw new ProtocolError("EINVAL", `dirty bitmap page size ${pageSize}`);
  const pages = (length + pageSize - 1n) / pageSize;
  return ((pages + 63n) / 64n) * 8n;
}

/** The shared codec of empty bodies. */
export const emptyBody: BodyCodec<EmptyBody> = {
  size: () => 0,
  write: () => {},
  read: (r, ctx) => {
    expectNoFds(r, ctx);
    r.expectLength(0);
    return {};
  },
};

/** Body of a message that has no payload (DEVICE_RESET, DMA_MAP reply, ...). */
export type EmptyBody = Record<string, never>;
