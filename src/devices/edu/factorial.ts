/**
 * n! in unsigned 32-bit arithmetic, as the edu device computes it (every product
 * wraps modulo 2^32). 34! holds 2^32 as a factor, so from 34 on the result is 0:
 * that cut-off keeps the worst case (n = 2^32 - 1) constant time.
 */
export function factorial32(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`factorial32: ${n} is not an unsigned 32-bit integer`);
  }
  if (n >= 34) return 0;
  let r = 1;
  for (let k = n; k > 1; k--) r = Math.imul(r, k);
  return r >>> 0;
}
