/** Little-endian helpers for register handlers (accesses of up to 8 bytes). */

/** The little-endian value of `data` (up to 8 bytes). */
export { leValue as leRead } from "../server/index.js";

/** `size` bytes, all 0xff: what a bus returns for a read nobody claims. */
export function allOnes(size: number): Uint8Array {
  return new Uint8Array(size).fill(0xff);
}
