/**
 * Little-endian field access: the one set of helpers for every layer. The vfio-user
 * wire format and PCI config space are little-endian whatever the host, so nothing
 * uses host-order views. Callers bounds-check; these assume the field lies inside `b`.
 */

export function getU16(b: Uint8Array, o: number): number {
  return (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
}

export function getU32(b: Uint8Array, o: number): number {
  return (
    ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0
  );
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

/** Little-endian value of `size` (1..4) bytes at `o`. */
export function getLE(b: Uint8Array, o: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (b[o + i] ?? 0);
  return v;
}

/** Little-endian bytes of a value of `size` (1..4) bytes. */
export function toLE(value: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
  return out;
}

/** Little-endian value of a whole access of up to 8 bytes (register handlers). */
export function leValue(data: Uint8Array): bigint {
  let v = 0n;
  for (let i = data.byteLength - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i] ?? 0);
  return v;
}

/** `value` as `size` little-endian bytes (up to 8), two's complement for negatives. */
export function leBytes(value: number | bigint, size: number): Uint8Array {
  let v = BigInt.asUintN(size * 8, BigInt(value));
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
