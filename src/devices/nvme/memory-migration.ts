/**
 * A memory-backed namespace's blocks moving with the controller: pre-copy in rounds of
 * 64 KiB units while the controller runs, with the units written after they were sent
 * sent again, and the rest at stop-copy. A file-backed namespace does not use this: the
 * file is shared storage that both servers open.
 *
 * Each chunk handed to the framework is a list of entries:
 *
 *   HEADER 1 | namespace size u64 | block size u32   first of a session
 *   DATA   2 | unit u32 | bytes                      64 KiB (less for the last unit)
 *   ZERO   3 | unit u32                              the unit reads as zeroes
 *   END    4 | entries sent u32                      the last, at stop-copy
 *
 * The destination refuses a namespace of another size or block size at the HEADER, and
 * the controller's load refuses to run unless the END arrived with every entry before it
 * (a client that dropped the pre-copy data would otherwise leave holes).
 */
import { concatBytes } from "../../bytes.js";
import { VfioError } from "../../errors.js";
import type { MemoryBacking } from "./backing.js";

/** The unit of transfer and of dirty tracking. */
export const MIGRATION_UNIT = 64 * 1024;

const HEADER = 1;
const DATA = 2;
const ZERO = 3;
const END = 4;

export class MemoryMigration {
  readonly #backing: MemoryBacking;
  readonly #blockSize: number;
  readonly #units: number;
  // --- the source's session ---
  /** Units still to send in this round, in order. */
  readonly #pending = new Set<number>();
  /** Units written since they were sent (or queued): the next round's. */
  readonly #dirty = new Set<number>();
  #headerDue = false;
  #roundOver = false;
  #ended = false;
  #sent = 0;
  // --- the destination's ---
  #started = false;
  #received = 0;
  #complete = false;

  constructor(backing: MemoryBacking, blockSize: number) {
    this.#backing = backing;
    this.#blockSize = blockSize;
    this.#units = Math.ceil(backing.size / MIGRATION_UNIT);
  }

  /** A saving session starts: every allocated unit is to send; writes are tracked from now. */
  begin(): void {
    this.#pending.clear();
    this.#dirty.clear();
    const per = Math.ceil((1 << 20) / MIGRATION_UNIT);
    for (const chunk of this.#backing.allocatedChunkIndexes()) {
      for (let u = chunk * per; u < Math.min((chunk + 1) * per, this.#units); u++) {
        this.#pending.add(u);
      }
    }
    this.#headerDue = true;
    this.#roundOver = false;
    this.#ended = false;
    this.#sent = 0;
    this.#backing.trackChanges((offset, length) => this.#mark(offset, length));
  }

  /** Units waiting to be sent (this round and the next). */
  get dirtyUnits(): number {
    return this.#pending.size + this.#dirty.size;
  }

  /**
   * Pre-copy: the next entries, about `max` bytes; empty at the end of a round. The
   * read after an empty one starts the next round with the units written meanwhile.
   */
  read(max: number): Uint8Array {
    if (this.#roundOver) {
      this.#refill();
      this.#roundOver = false;
    }
    const out = this.#emit(max);
    if (out.byteLength === 0) this.#roundOver = true;
    return out;
  }

  /** Stop-copy (the controller is stopped): everything not sent yet, then the END entry. */
  remainder(max: number): Uint8Array {
    if (this.#ended) return new Uint8Array(0);
    this.#refill();
    const out = this.#emit(max);
    if (this.#pending.size > 0) return out;
    this.#ended = true;
    this.#backing.trackChanges(undefined);
    const end = new Uint8Array(5);
    end[0] = END;
    new DataView(end.buffer).setUint32(1, this.#sent, true);
    return concatBytes([out, end]);
  }

  /** True on the destination once a whole session arrived (its END, with every entry). */
  get complete(): boolean {
    return this.#complete;
  }

  /** True on the destination once a session's header arrived. */
  get started(): boolean {
    return this.#started;
  }

  /** The destination: one chunk of entries, applied to the namespace's memory. */
  async load(chunk: Uint8Array): Promise<void> {
    const v = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let at = 0;
    const need = (n: number, what: string) => {
      if (at + n > chunk.byteLength) {
        bad(`a ${what} entry cut short at byte ${at} of a ${chunk.byteLength}-byte chunk`);
      }
    };
    while (at < chunk.byteLength) {
      const type = chunk[at]!;
      at += 1;
      if (type === HEADER) {
        need(12, "header");
        const size = v.getBigUint64(at, true);
        const blockSize = v.getUint32(at + 8, true);
        at += 12;
        if (size !== BigInt(this.#backing.size) || blockSize !== this.#blockSize) {
          bad(
            `the source's namespace is ${size} bytes in ${blockSize}-byte blocks, this one ` +
              `${this.#backing.size} bytes in ${this.#blockSize}-byte blocks: not the same size`,
          );
        }
        this.#started = true;
        this.#received = 0;
        this.#complete = false;
        continue;
      }
      if (!this.#started) bad(`entry type ${type} before the session's header`);
      if (this.#complete) bad(`entry type ${type} after the end mark`);
      if (type === END) {
        need(4, "end");
        const sent = v.getUint32(at, true);
        at += 4;
        if (sent !== this.#received) {
          bad(
            `${this.#received} of the ${sent} units the source sent arrived (pre-copy data missing?)`,
          );
        }
        this.#complete = true;
        continue;
      }
      if (type !== DATA && type !== ZERO) bad(`unknown entry type ${type}`);
      need(4, type === DATA ? "data" : "zero");
      const unit = v.getUint32(at, true);
      at += 4;
      if (unit >= this.#units) bad(`unit ${unit} beyond the namespace's ${this.#units} units`);
      const offset = unit * MIGRATION_UNIT;
      const length = Math.min(MIGRATION_UNIT, this.#backing.size - offset);
      if (type === DATA) {
        need(length, "data");
        await this.#backing.write(offset, chunk.subarray(at, at + length));
        at += length;
      } else {
        await this.#backing.zero(offset, length);
      }
      this.#received++;
    }
  }

  #mark(offset: number, length: number): void {
    if (length <= 0) return;
    const last = Math.floor((offset + length - 1) / MIGRATION_UNIT);
    for (let u = Math.floor(offset / MIGRATION_UNIT); u <= last; u++) {
      if (!this.#pending.has(u)) this.#dirty.add(u);
    }
  }

  #refill(): void {
    for (const u of [...this.#dirty].sort((a, b) => a - b)) this.#pending.add(u);
    this.#dirty.clear();
  }

  /** Entries for pending units (and the header when due), about `max` bytes, at least one. */
  #emit(max: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let bytes = 0;
    if (this.#headerDue) {
      const h = new Uint8Array(13);
      h[0] = HEADER;
      const dv = new DataView(h.buffer);
      dv.setBigUint64(1, BigInt(this.#backing.size), true);
      dv.setUint32(9, this.#blockSize, true);
      parts.push(h);
      bytes += h.byteLength;
      this.#headerDue = false;
    }
    for (const u of this.#pending) {
      const offset = u * MIGRATION_UNIT;
      const data = this.#backing.readSync(
        offset,
        Math.min(MIGRATION_UNIT, this.#backing.size - offset),
      );
      const zero = isZero(data);
      const size = 5 + (zero ? 0 : data.byteLength);
      if (bytes > 0 && bytes + size > max) break;
      const head = new Uint8Array(5);
      head[0] = zero ? ZERO : DATA;
      new DataView(head.buffer).setUint32(1, u, true);
      parts.push(head);
      if (!zero) parts.push(data);
      bytes += size;
      this.#pending.delete(u);
      this.#sent++;
    }
    return parts.length === 1 ? parts[0]! : concatBytes(parts);
  }
}

function isZero(data: Uint8Array): boolean {
  if (data.byteOffset % 4 === 0 && data.byteLength % 4 === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  return data.every((b) => b === 0);
}

function bad(message: string): never {
  throw new VfioError("EINVAL", `NVMe namespace memory: ${message}`);
}
