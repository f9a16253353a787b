/** Hex formatting shared by every layer's messages and output. */

/** `0x` and lowercase hex digits, zero-padded to `width` digits (never truncated). */
export function hex(v: number | bigint, width = 0): string {
  return `0x${v.toString(16).padStart(width, "0")}`;
}

/**
 * Lowercase hex digits without a prefix, zero-padded to `width` (never truncated); a
 * negative number shows as its 32-bit two's complement, as a register would.
 */
export function hexDigits(value: number | bigint, width = 0): string {
  const digits =
    typeof value === "bigint" || value >= 0 ? value.toString(16) : (value >>> 0).toString(16);
  return digits.padStart(width, "0");
}
