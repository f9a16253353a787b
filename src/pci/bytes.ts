/**
 * Little-endian field access on config space images. PCI config space is
 * little-endian regardless of the host, so we never use host-order views.
 * Callers bounds-check; these helpers assume the field lies inside `b`.
 */

export function getU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function getU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function getU64(b: Uint8Array, o: number): bigint {
  return (BigInt(getU32(b, o + 4)) << 32n) | BigInt(getU32(b, o));
}

export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

export function setU64(b: Uint8Array, o: number, v: bigint): void {
  setU32(b, o, Number(v & 0xffffffffn));
  setU32(b, o + 4, Number((v >> 32n) & 0xffffffffn));
}

/** Little-endian value of `size` (1..4) bytes. */
export function getLE(b: Uint8Array, o: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + b[o + i]!;
  return v;
}

/** Little-endian bytes of a value of `size` (1..4) bytes. */
export function toLE(value: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
  return out;
}

export function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

export { hex } from "../hex.js";
