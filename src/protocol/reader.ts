import { ProtocolError } from "./protocol-error.js";

/**
 * Bounds-checked little-endian cursor over a message body. Every read checks that the
 * bytes are there and throws ProtocolError(EINVAL) naming the field otherwise, so a
 * decoder built on it cannot run off the end of a buffer or throw a RangeError.
 *
 * The spec says "endianness of the host"; vfio-ts runs on little-endian hosts only
 * (x86-64, arm64), like every peer it talks to.
 */
export class Reader {
  private readonly dv: DataView;
  private pos = 0;

  /** `what` prefixes every error message, e.g. "DMA_MAP request". */
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get length(): number {
    return this.buf.byteLength;
  }

  get remaining(): number {
    return this.buf.byteLength - this.pos;
  }

  /** Throw a ProtocolError about this message. */
  fail(message: string, code: "EINVAL" | "E2BIG" | "ENOSPC" = "EINVAL"): never {
    throw new ProtocolError(code, `${this.what}: ${message}`);
  }

  private need(n: number, field: string): void {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`${field}: invalid length ${n}`);
    if (n > this.buf.byteLength - this.pos) {
      this.fail(
        `${field} at offset ${this.pos} needs ${n} bytes but only ${this.remaining} remain`,
      );
    }
  }

  /** Reads a u8; `field` names it in the error if the body is too short. */
  u8(field: string): number {
    this.need(1, field);
    return this.dv.getUint8(this.pos++);
  }

  /** Reads a little-endian u16. */
  u16(field: string): number {
    this.need(2, field);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  /** Reads a little-endian u32. */
  u32(field: string): number {
    this.need(4, field);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Reads a little-endian u64. */
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 the protocol bounds to `max` (at most 2^53-1); larger values fail with `code`. */
  u64Number(field: string, max: number, code: "EINVAL" | "E2BIG" = "EINVAL"): number {
    const v = this.u64(field);
    if (v > BigInt(max)) this.fail(`${field} ${v} exceeds ${max}`, code);
    return Number(v);
  }

  /** `n` bytes as a view into the message (no copy). */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Skips `n` bytes (reserved or padding). */
  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** Move to an absolute offset inside the buffer (used to follow capability chains). */
  seek(offset: number, field: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.buf.byteLength) {
      this.fail(`${field} ${offset} is outside the ${this.buf.byteLength}-byte body`);
    }
    this.pos = offset;
  }

  /** The rest of the body as a view. */
  rest(): Uint8Array {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.byteLength;
    return v;
  }

  /** Fail unless every byte was consumed: trailing bytes mean a wrong message size. */
  end(): void {
    if (this.pos !== this.buf.byteLength) {
      this.fail(
        `${this.buf.byteLength - this.pos} unexpected trailing bytes (body is ${this.buf.byteLength}, expected ${this.pos})`,
      );
    }
  }

  /** Fail unless the body is exactly `n` bytes long (checked before any field is read). */
  expectLength(n: number): void {
    if (this.buf.byteLength !== n) {
      this.fail(`body is ${this.buf.byteLength} bytes, expected ${n}`);
    }
  }

  /** Fail unless the body is at least `n` bytes long. */
  expectAtLeast(n: number): void {
    if (this.buf.byteLength < n) {
      this.fail(`body is ${this.buf.byteLength} bytes, expected at least ${n}`);
    }
  }
}
