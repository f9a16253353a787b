/** Little-endian helpers for register handlers (accesses of up to 8 bytes). */

/** The little-endian value of `data` (up to 8 bytes). */
export function leRead(data: Uint8Array): bigint {
  let v = 0n;
  for (let i = data.byteLength - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i]!);
  return v;
}

/** `size` bytes, all 0xff: what a bus returns for a read nobody claims. */
export function allOnes(size: number): Uint8Array {
  return new Uint8Array(size).fill(0xff);
}
