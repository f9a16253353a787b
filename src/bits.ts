/** True for 1, 2, 4, ...: sizes of BARs, ROMs, pages and bitmaps. */
export function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}
