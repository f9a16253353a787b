/**
 * Log pages (NVMe Base 1.4, section 5.14.1): Error Information, SMART / Health
 * Information and Firmware Slot Information, and the counters behind them.
 */

export const LOG_ERROR = 0x01;
export const LOG_SMART = 0x02;
export const LOG_FIRMWARE = 0x03;

/** What the controller counts for the SMART log. */
export class HealthCounters {
  /** Bytes moved by Read and Write commands. */
  bytesRead = 0;
  bytesWritten = 0;
  readCommands = 0n;
  writeCommands = 0n;
  mediaErrors = 0n;
  readonly started = Date.now();
}

/** One Error Information log entry. */
export interface ErrorEntry {
  readonly count: bigint;
  readonly sqid: number;
  readonly cid: number;
  readonly status: number;
  readonly nsid: number;
  readonly lba: bigint;
}

/** The Error Information log: the newest `capacity` errors, newest first. */
export class ErrorLog {
  readonly capacity: number;
  #count = 0n;
  #entries: ErrorEntry[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get count(): bigint {
    return this.#count;
  }

  record(sqid: number, cid: number, status: number, nsid: number, lba: bigint): void {
    this.#count++;
    this.#entries.unshift({ count: this.#count, sqid, cid, status, nsid, lba });
    this.#entries.length = Math.min(this.#entries.length, this.capacity);
  }

  /** The count and the entries kept, newest first (migration). */
  snapshot(): { count: bigint; entries: ErrorEntry[] } {
    return { count: this.#count, entries: [...this.#entries] };
  }

  /** Takes a snapshot() (migration); RangeError beyond this log's capacity. */
  restore(s: { count: bigint; entries: readonly ErrorEntry[] }): void {
    if (s.entries.length > this.capacity) {
      throw new RangeError(`${s.entries.length} error log entries, capacity ${this.capacity}`);
    }
    this.#count = s.count;
    this.#entries = [...s.entries];
  }

  page(): Uint8Array {
    const out = new Uint8Array(64 * this.capacity);
    const v = new DataView(out.buffer);
    this.#entries.forEach((e, i) => {
      const at = i * 64;
      v.setBigUint64(at, e.count, true);
      v.setUint16(at + 8, e.sqid, true);
      v.setUint16(at + 10, e.cid, true);
      v.setUint16(at + 12, (e.status & 0x7fff) << 1, true);
      v.setUint16(at + 14, 0xffff, true); // parameter error location: not given
      v.setBigUint64(at + 16, e.lba, true);
      v.setUint32(at + 24, e.nsid, true);
    });
    return out;
  }
}

/** 128-bit little-endian counter at `at`. */
function put128(v: DataView, at: number, n: bigint): void {
  v.setBigUint64(at, n & 0xffffffffffffffffn, true);
  v.setBigUint64(at + 8, n >> 64n, true);
}

/** Data units: thousands of 512-byte units, rounded up. */
function dataUnits(bytes: number): bigint {
  return BigInt(Math.ceil(bytes / 512 / 1000));
}

export function smartLog(h: HealthCounters, errors: bigint): Uint8Array {
  const out = new Uint8Array(512);
  const v = new DataView(out.buffer);
  out[0] = 0; // critical warning: none
  v.setUint16(1, 273 + 40, true); // composite temperature: 40 C in kelvin
  out[3] = 100; // available spare %
  out[4] = 10; // available spare threshold %
  out[5] = 0; // percentage used
  put128(v, 32, dataUnits(h.bytesRead));
  put128(v, 48, dataUnits(h.bytesWritten));
  put128(v, 64, h.readCommands);
  put128(v, 80, h.writeCommands);
  put128(v, 112, 1n); // power cycles
  put128(v, 128, BigInt(Math.floor((Date.now() - h.started) / 3_600_000))); // power-on hours
  put128(v, 160, h.mediaErrors);
  put128(v, 176, errors);
  return out;
}

export function firmwareLog(firmware: string): Uint8Array {
  const out = new Uint8Array(512);
  out[0] = 1; // AFI: slot 1 active
  out.fill(0x20, 8, 16);
  out.set(new TextEncoder().encode(firmware.slice(0, 8)), 8); // FRS1
  return out;
}
