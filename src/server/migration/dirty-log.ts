/**
 * DMA dirty-page logging (DEVICE_FEATURE DMA_LOGGING_START/STOP/REPORT, and DMA_UNMAP
 * with GET_DIRTY_BITMAP): which pages of client memory the device wrote since logging
 * started or since they were last reported.
 *
 * Pages are bits in a sparse bitmap: chunks of CHUNK_PAGES bits created on first
 * write, so memory grows with what the device touched, not with the size of the
 * client's address space (a 1 TiB guest logged at 4 KiB would need a 32 MiB dense
 * bitmap; a device that wrote 1 GiB of it costs 32 KiB here).
 *
 * A bound all the same: a client can map windows without fds over the whole IOVA space
 * and have the device write one page in each 128 MiB of it. Past MAX_LOG_CHUNKS chunks
 * (16 MiB of bitmap) the tracking pages double in size, as often as it takes to fall
 * to half of that. Reports stay correct, only coarser: a report page is dirty when any
 * dirty tracking page overlaps it, so a write is never hidden; more pages are reported
 * dirty than were written, which costs the migration bytes, not correctness.
 */
import { VfioError } from "../../errors.js";

/** One IOVA range under dirty-page logging. */
export interface LoggedRange {
  readonly iova: bigint;
  readonly length: bigint;
}

/** Bits per chunk: 2^15 pages, 128 MiB of IOVA at 4 KiB, a 4 KiB chunk. */
const CHUNK_SHIFT = 15n;
const CHUNK_PAGES = 1n << CHUNK_SHIFT;
const WORDS_PER_CHUNK = Number(CHUNK_PAGES) / 32;

/** Smallest and largest tracking granularity we pick (the client's is a hint). */
export const MIN_LOG_PAGE = 4096n;
export const MAX_LOG_PAGE = 1n << 30n;

/** Bitmap chunks held at most (4 KiB each): past it, tracking pages grow (see above). */
export const MAX_LOG_CHUNKS = 4096;

/** Upper bound on logged ranges in one START (the kernel's mlx5 has a similar cap). */
export const MAX_LOG_RANGES = 1024;

export function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

/**
 * Which pages of client memory the device wrote since logging started or they were last reported: a
 * sparse bitmap.
 */
export class DirtyLog {
  /** The tracking granularity chosen (reported back in START's reply). */
  readonly pageSize: bigint;
  /** log2 of the tracking granularity now: pageSize's, or more once chunks ran short. */
  #shift: bigint;
  readonly #maxChunks: number;
  /** What is logged; empty means every write. Sorted, non-overlapping. */
  readonly ranges: readonly LoggedRange[];
  #chunks = new Map<bigint, Uint32Array>();

  /**
   * `pageSize` is the client's hint: a power of two between 4 KiB and 1 GiB is
   * honoured, anything else is clamped into that range (the spec lets the device pick).
   * Overlapping or empty ranges are refused (EINVAL), as the kernel does.
   */
  constructor(pageSize: bigint, ranges: readonly LoggedRange[], maxChunks = MAX_LOG_CHUNKS) {
    let ps = pageSize;
    if (!isPowerOfTwo(ps))
      throw new VfioError("EINVAL", `DMA logging: page_size ${ps} is not a power of two`);
    if (ps < MIN_LOG_PAGE) ps = MIN_LOG_PAGE;
    if (ps > MAX_LOG_PAGE) ps = MAX_LOG_PAGE;
    this.pageSize = ps;
    this.#shift = BigInt(ps.toString(2).length - 1);
    this.#maxChunks = Math.max(2, maxChunks);
    if (ranges.length > MAX_LOG_RANGES) {
      throw new VfioError(
        "E2BIG",
        `DMA logging: ${ranges.length} ranges (at most ${MAX_LOG_RANGES})`,
      );
    }
    const sorted = [...ranges].sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
    for (let i = 0; i < sorted.length; i++) {
      const r = sorted[i]!;
      if (r.length === 0n) throw new VfioError("EINVAL", `DMA logging: range ${i} is empty`);
      const prev = sorted[i - 1];
      if (prev && prev.iova + prev.length > r.iova) {
        throw new VfioError(
          "EINVAL",
          `DMA logging: ranges at 0x${prev.iova.toString(16)} and 0x${r.iova.toString(16)} overlap`,
        );
      }
    }
    this.ranges = sorted;
  }

  /** The device wrote [iova, iova + length): mark the logged pages it touched. */
  mark(iova: bigint, length: bigint): void {
    if (length <= 0n) return;
    const end = iova + length;
    if (this.ranges.length === 0) {
      this.#markPages(iova, end);
      return;
    }
    for (const r of this.ranges) {
      const lo = bigMax(iova, r.iova);
      const rEnd = r.iova + r.length;
      const hi = bigMin(end, rEnd);
      if (lo < hi) this.#markPages(lo, hi);
    }
  }

  /**
   * The bitmap of [iova, iova + length) at `pageSize` granularity (u64 words, little
   * endian, bit n = the page at iova + n * pageSize), then those dirty pages that lie
   * wholly inside the range are cleared: a report hands them over, as the kernel's
   * does. A report page is dirty when any dirty tracking page overlaps it, so a
   * coarser or finer report than the tracking granularity never hides a write.
   */
  report(iova: bigint, length: bigint, pageSize: bigint): Uint8Array {
    if (!isPowerOfTwo(pageSize)) {
      throw new VfioError("EINVAL", `dirty report: page_size ${pageSize} is not a power of two`);
    }
    if (length <= 0n) throw new VfioError("EINVAL", "dirty report: empty range");
    const bits = (length + pageSize - 1n) / pageSize;
    const out = new Uint8Array(Number(((bits + 63n) / 64n) * 8n));
    const end = iova + length;
    const first = iova >> this.#shift;
    const last = (end - 1n) >> this.#shift;
    const cleared: bigint[] = [];
    for (const [chunk, words] of this.#chunks) {
      const base = chunk << CHUNK_SHIFT;
      if (base + CHUNK_PAGES <= first || base > last) continue;
      for (let w = 0; w < WORDS_PER_CHUNK; w++) {
        let word = words[w]!;
        while (word !== 0) {
          const bit = 31 - Math.clz32(word & -word);
          word &= word - 1;
          const page = base + BigInt(w * 32 + bit);
          if (page < first || page > last) continue;
          const pStart = page << this.#shift;
          const pEnd = pStart + (1n << this.#shift);
          const lo = bigMax(pStart, iova);
          const hi = bigMin(pEnd, end);
          for (let b = (lo - iova) / pageSize; b <= (hi - 1n - iova) / pageSize; b++) {
            const n = Number(b);
            out[n >> 3] = out[n >> 3]! | (1 << (n & 7));
          }
          if (pStart >= iova && pEnd <= end) cleared.push(page);
        }
      }
    }
    for (const page of cleared) this.#clear(page);
    for (const [chunk, words] of this.#chunks) {
      if (words.every((w) => w === 0)) this.#chunks.delete(chunk);
    }
    return out;
  }

  /** The tracking granularity now: pageSize, or coarser once MAX_LOG_CHUNKS was reached. */
  get trackingPageSize(): bigint {
    return 1n << this.#shift;
  }

  /** Bitmap chunks held (for tests and logs). */
  get chunkCount(): number {
    return this.#chunks.size;
  }

  /** Dirty tracking pages right now (for tests and logs). */
  get dirtyPages(): number {
    let n = 0;
    for (const words of this.#chunks.values()) for (const w of words) n += popcount(w);
    return n;
  }

  /** Marks the tracking pages of bytes [lo, hi); starts over, coarser, if chunks run out. */
  #markPages(lo: bigint, hi: bigint): void {
    for (;;) {
      const last = (hi - 1n) >> this.#shift;
      let page = lo >> this.#shift;
      for (; page <= last; page++) {
        if (!setBit(this.#chunks, page, this.#maxChunks)) {
          this.#coarsen();
          break;
        }
      }
      if (page > last) return;
    }
  }

  /** Doubles the tracking page size until at most half the chunks are in use. */
  #coarsen(): void {
    do {
      const old = this.#chunks;
      this.#chunks = new Map();
      this.#shift += 1n;
      for (const [chunk, words] of old) {
        const base = chunk << CHUNK_SHIFT;
        for (let w = 0; w < WORDS_PER_CHUNK; w++) {
          let word = words[w]!;
          while (word !== 0) {
            const bit = 31 - Math.clz32(word & -word);
            word &= word - 1;
            setBit(this.#chunks, (base + BigInt(w * 32 + bit)) >> 1n, Number.POSITIVE_INFINITY);
          }
        }
      }
    } while (this.#chunks.size > this.#maxChunks >>> 1);
  }

  #clear(page: bigint): void {
    const chunk = page >> CHUNK_SHIFT;
    const words = this.#chunks.get(chunk);
    if (words === undefined) return;
    const i = Number(page & (CHUNK_PAGES - 1n));
    words[i >>> 5] = words[i >>> 5]! & ~(1 << (i & 31));
  }
}

/** Sets the page's bit; false, and nothing set, when that needs a chunk past `maxChunks`. */
function setBit(chunks: Map<bigint, Uint32Array>, page: bigint, maxChunks: number): boolean {
  const chunk = page >> CHUNK_SHIFT;
  let words = chunks.get(chunk);
  if (words === undefined) {
    if (chunks.size >= maxChunks) return false;
    words = new Uint32Array(WORDS_PER_CHUNK);
    chunks.set(chunk, words);
  }
  const i = Number(page & (CHUNK_PAGES - 1n));
  words[i >>> 5] = words[i >>> 5]! | (1 << (i & 31));
  return true;
}

function popcount(v: number): number {
  let n = 0;
  for (let x = v; x !== 0; x &= x - 1) n++;
  return n;
}

/** Math.min/max for bigints (which Math refuses). */
function bigMin(a: bigint, b: bigint): bigint {
  return b < a ? b : a;
}

function bigMax(a: bigint, b: bigint): bigint {
  return b > a ? b : a;
}
