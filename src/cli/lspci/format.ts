/**
 * Small printf-like helpers shared by the lspci renderers, so every line uses
 * lspci's conventions: "Name+" / "Name-" flags, zero-padded lowercase hex, and
 * sizes with binary suffixes.
 */

/** lspci's FLAG(): "+" when any bit of `mask` is set in `value`, else "-". */
export function flag(value: number, mask: number): string {
  return (value & mask) !== 0 ? "+" : "-";
}

/** `name+` / `name-` for each [name, mask] pair, space separated. */
export function flags(value: number, pairs: readonly (readonly [string, number])[]): string {
  return pairs.map(([name, mask]) => `${name}${flag(value, mask)}`).join(" ");
}

/** lspci prints hex without a prefix. */
export { hexDigits as hex } from "../../hex.js";

/** lspci's show_size: " [size=4K]"; empty for 0 or unknown. */
export function sizeSuffix(size: bigint | number | undefined): string {
  if (size === undefined) return "";
  let x = BigInt(size);
  if (x <= 0n) return "";
  const units = ["", "K", "M", "G", "T"];
  let i = 0;
  // Like lspci: scale while the size is a whole number of the next unit.
  while (i < units.length - 1 && x % 1024n === 0n) {
    x /= 1024n;
    i++;
  }
  return ` [size=${x}${units[i]}]`;
}

/** Little-endian reads that yield 0 past the end of the buffer (dumps may be short). */
export function u8(b: Uint8Array, o: number): number {
  return b[o] ?? 0;
}

export function u16(b: Uint8Array, o: number): number {
  return u8(b, o) | (u8(b, o + 1) << 8);
}

export function u32(b: Uint8Array, o: number): number {
  return (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;
}
