import { ProtocolError } from "./protocol-error.js";

const U64_LIMIT = 1n << 64n;

/** Fail unless `v` is an integer in [0, max]: encoders never wrap a value silently. */
export function checkUint(v: unknown, max: number, field: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new ProtocolError("EINVAL", `${field}: ${String(v)} is not an integer in [0, ${max}]`);
  }
  return v;
}

/** Fail unless `v` is a bigint in [0, 2^64). */
export function checkU64(v: unknown, field: string): bigint {
  if (typeof v !== "bigint" || v < 0n || v >= U64_LIMIT) {
    throw new ProtocolError("EINVAL", `${field}: ${String(v)} is not a u64 bigint`);
  }
  return v;
}

export function checkBytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new ProtocolError("EINVAL", `${field}: expected a Uint8Array`);
  }
  return v;
}

/**
 * Little-endian writer over a buffer the caller sized exactly (encoders compute the size
 * first, so a message body is written once, straight into its frame). Values are
 * range-checked: an out-of-range field is a caller bug reported as ProtocolError(EINVAL)
 * instead of being truncated onto the wire.
 */
export class Writer {
  private readonly dv: DataView;
  private pos = 0;

  constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A writer over a new buffer of `size` bytes. */
  static alloc(size: number): Writer {
    return new Writer(new Uint8Array(size));
  }

  get offset(): number {
    return this.pos;
  }

  private room(n: number, field: string): void {
    if (n > this.buf.byteLength - this.pos) {
      throw new ProtocolError(
        "EINVAL",
        `${field}: writing ${n} bytes at ${this.pos} overflows the ${this.buf.byteLength}-byte body`,
      );
    }
  }

  /** Writes a u8; `field` names it in the error if it does not fit. */
  u8(v: number, field: string): void {
    checkUint(v, 0xff, field);
    this.room(1, field);
    this.dv.setUint8(this.pos++, v);
  }

  /** Writes a little-endian u16. */
  u16(v: number, field: string): void {
    checkUint(v, 0xffff, field);
    this.room(2, field);
    this.dv.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  /** Writes a little-endian u32. */
  u32(v: number, field: string): void {
    checkUint(v, 0xffffffff, field);
    this.room(4, field);
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  /** Writes a little-endian u64. */
  u64(v: bigint, field: string): void {
    checkU64(v, field);
    this.room(8, field);
    this.dv.setBigUint64(this.pos, v, true);
    this.pos += 8;
  }

  /** A u64 field holding a protocol-bounded number. */
  u64Number(v: number, field: string): void {
    checkUint(v, Number.MAX_SAFE_INTEGER, field);
    this.u64(BigInt(v), field);
  }

  /** Copies `b` into the body. */
  bytes(b: Uint8Array, field: string): void {
    checkBytes(b, field);
    this.room(b.byteLength, field);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }

  /** Skip `n` bytes, leaving them zero (buffers start zeroed). */
  zeros(n: number, field: string): void {
    this.room(n, field);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  /** Fail unless the body was written to exactly its computed size. */
  finish(): Uint8Array {
    if (this.pos !== this.buf.byteLength) {
      throw new ProtocolError(
        "EINVAL",
        `encoder wrote ${this.pos} of ${this.buf.byteLength} bytes (size computation mismatch)`,
      );
    }
    return this.buf;
  }
}
