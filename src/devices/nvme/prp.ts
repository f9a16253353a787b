/**
 * PRP walking (NVMe Base 1.4, section 4.3): the host memory a command's PRP1/PRP2
 * describe, as DMA segments, merged where pages are contiguous.
 *
 * - PRP1 points at the first byte; it may start anywhere in its page (dword aligned).
 * - When the rest fits in one page, PRP2 points at it (page aligned).
 * - Otherwise PRP2 points at a PRP list (qword aligned); each entry is a page-aligned
 *   page; when more entries are needed than the list page holds, its last entry
 *   points at the next list page, which must be page aligned.
 * Any entry that breaks these rules ends the command with Invalid PRP Offset. The walk
 * reads at most one list page per 511 data pages, so a hostile list cannot loop.
 */
import type { DmaSegment } from "../../server/index.js";
import { PAGE_SIZE } from "./regs.js";
import { CommandStatus, Status } from "./status.js";

/** Reads `bytes` of a PRP list at `iova` from host memory. */
export type ListReader = (iova: bigint, bytes: number) => Promise<Uint8Array>;

const PAGE = BigInt(PAGE_SIZE);

function bad(what: string, value: bigint): never {
  throw new CommandStatus(Status.INVALID_PRP_OFFSET, `${what} 0x${value.toString(16)}`);
}

/** Appends [iova, +length) to `out`, merging it into the last segment when contiguous. */
function push(out: DmaSegment[], iova: bigint, length: number): void {
  const last = out[out.length - 1];
  if (last !== undefined && last.iova + BigInt(last.length) === iova) {
    out[out.length - 1] = { iova: last.iova, length: last.length + length };
  } else out.push({ iova, length });
}

/**
 * The segments of a `length`-byte transfer described by `prp1` and `prp2`. Throws
 * CommandStatus (Invalid PRP Offset) for a misaligned entry; a list read that faults
 * rejects with the reader's error.
 */
export async function prpSegments(
  prp1: bigint,
  prp2: bigint,
  length: number,
  readList: ListReader,
): Promise<DmaSegment[]> {
  if ((prp1 & 3n) !== 0n) bad("PRP1 is not dword aligned:", prp1);
  const out: DmaSegment[] = [];
  const first = Math.min(length, PAGE_SIZE - Number(prp1 % PAGE));
  push(out, prp1, first);
  let left = length - first;
  if (left === 0) return out;
  if (left <= PAGE_SIZE) {
    if (prp2 % PAGE !== 0n) bad("PRP2 (a data page) is not page aligned:", prp2);
    push(out, prp2, left);
    return out;
  }
  if ((prp2 & 7n) !== 0n) bad("PRP2 (a PRP list) is not qword aligned:", prp2);
  let list = prp2;
  let need = Math.ceil(left / PAGE_SIZE);
  while (need > 0) {
    const slots = (PAGE_SIZE - Number(list % PAGE)) / 8;
    const chained = need > slots;
    const entries = chained ? slots - 1 : need;
    const bytes = await readList(list, (chained ? slots : need) * 8);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < entries; i++) {
      const page = v.getBigUint64(i * 8, true);
      if (page % PAGE !== 0n) bad("PRP list entry is not page aligned:", page);
      const n = Math.min(left, PAGE_SIZE);
      push(out, page, n);
      left -= n;
    }
    need -= entries;
    if (chained) {
      list = v.getBigUint64((slots - 1) * 8, true);
      if (list % PAGE !== 0n) bad("chained PRP list is not page aligned:", list);
    }
  }
  return out;
}
