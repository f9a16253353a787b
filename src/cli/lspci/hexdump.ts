/** lspci's -x/-xxx/-xxxx dump: 16 bytes a line, "00: 34 12 e8 11 ...". */
import { hex } from "./format.js";

/**
 * How many bytes lspci shows for a -x count: 64 for -x (and -xx), 256 for -xxx,
 * 4096 for -xxxx; never more than the dump holds.
 */
export function hexDumpLength(level: number, available: number): number {
  const want = level >= 4 ? 4096 : level >= 3 ? 256 : level >= 1 ? 64 : 0;
  return Math.min(want, available);
}

export function hexDump(bytes: Uint8Array, length = bytes.length): string[] {
  const lines: string[] = [];
  const n = Math.min(length, bytes.length);
  for (let at = 0; at < n; at += 16) {
    const row: string[] = [];
    for (let i = at; i < Math.min(at + 16, n); i++) row.push(hex(bytes[i]!, 2));
    lines.push(`${hex(at, 2)}: ${row.join(" ")}`);
  }
  return lines;
}
