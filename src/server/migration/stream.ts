/**
 * The bytes that travel in MIG_DATA_READ/WRITE. The spec leaves their format to the
 * server; ours is a header and a sequence of records, so the destination can tell a
 * complete stream from a cut one and the framework's state from the device's:
 *
 *   header: "VTSMIG" u8 version u8 0
 *   record: kind u8 | 3 reserved | length u32 | payload
 *
 * Each saving state starts a segment with its own header: the STOP_COPY data is whole
 * by itself (header, pre-copy records still unread, framework, device, END), so a
 * client that drops the PRE_COPY data, as libvfio-user's sample client does, still
 * delivers a stream the destination takes. For that, PRE_COPY reads hand out whole
 * records only (takeWhole), so the PRE_COPY data a client has read never ends inside
 * a record; only a record larger than the client's read size is split, and then its
 * rest comes first in the STOP_COPY data, before the new header (a destination must
 * then have the PRE_COPY data too). A PRE_COPY read may so come back short while a
 * record waits: the spec's "no more data" is "no more for now" in PRE_COPY, and the
 * record is in the next read or in the STOP_COPY data. The destination
 * accepts a header at any record boundary (its first byte, 'V', is no record kind).
 *
 * Kinds: PRECOPY (a chunk the device produced while running), FRAMEWORK (config space,
 * interrupt state: see framework-state.ts), DEVICE (the device's save()), END.
 */
import { VfioError } from "../../errors.js";

export const STREAM_MAGIC = new Uint8Array([0x56, 0x54, 0x53, 0x4d, 0x49, 0x47, 1, 0]);
/** Bytes before a record's payload. */
export const RECORD_HEADER = 8;

export const RecordKind = {
  PRECOPY: 1,
  FRAMEWORK: 2,
  DEVICE: 3,
  END: 0xff,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

export interface MigRecord {
  readonly kind: RecordKind;
  readonly payload: Uint8Array;
}

/** Largest record a destination accepts by default: bounds what a client makes us buffer. */
export const DEFAULT_MAX_RECORD = 1 << 30;

/**
 * Most migration data a destination buffers by default (MigrationDefinition.maxDataBytes):
 * nothing is applied before the stream is whole, so this is what a client in RESUMING
 * can make the server hold.
 */
export const DEFAULT_MAX_DATA = 256 * 1024 * 1024;

export function encodeRecord(
  kind: RecordKind,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  if (payload.byteLength > 0xffffffff) {
    throw new VfioError("E2BIG", `migration record of ${payload.byteLength} bytes`);
  }
  const out = new Uint8Array(RECORD_HEADER + payload.byteLength);
  out[0] = kind;
  new DataView(out.buffer).setUint32(4, payload.byteLength, true);
  out.set(payload, RECORD_HEADER);
  return out;
}

/** The source's side: bytes queued for MIG_DATA_READ, taken in any sizes. */
export class OutgoingStream {
  readonly #queue: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  #sent = 0;

  constructor() {
    this.push(STREAM_MAGIC);
  }

  push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.#queue.push(bytes);
    this.#queued += bytes.byteLength;
  }

  pushRecord(kind: RecordKind, payload?: Uint8Array): void {
    this.push(encodeRecord(kind, payload));
  }

  /** Bytes queued and not yet read. */
  get pending(): number {
    return this.#queued;
  }

  /** Bytes read so far. */
  get sent(): number {
    return this.#sent;
  }

  /**
   * Starts a new segment (the STOP_COPY data after PRE_COPY): the rest of a record a
   * read split stays first, so a destination that got the earlier bytes can finish
   * it; then a header, so a destination that got none of them starts here; then
   * the records still unread.
   */
  startSegment(): void {
    const at = this.#head > 0 ? 1 : 0;
    this.#queue.splice(at, 0, STREAM_MAGIC);
    this.#queued += STREAM_MAGIC.byteLength;
  }

  /**
   * Up to `max` bytes made of whole queued items (the header, records), so the bytes
   * read end at a record boundary; a record that would not fit waits for the next
   * read. Only an item larger than `max` by itself (the device returned more than it
   * was asked for) is split, filling the read, as it could never be read whole.
   */
  takeWhole(max: number): Uint8Array {
    let n = 0;
    let first = true;
    for (const item of this.#queue) {
      const left = first ? item.byteLength - this.#head : item.byteLength;
      if (n + left > max) {
        if (left > max) n = max;
        break;
      }
      n += left;
      first = false;
    }
    return this.take(n);
  }

  /** Up to `max` bytes, fewer only when the queue runs dry. */
  take(max: number): Uint8Array {
    const n = Math.min(max, this.#queued);
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#queue[0]!;
      const part = Math.min(n - at, chunk.byteLength - this.#head);
      out.set(chunk.subarray(this.#head, this.#head + part), at);
      at += part;
      this.#head += part;
      if (this.#head === chunk.byteLength) {
        this.#queue.shift();
        this.#head = 0;
      }
    }
    this.#queued -= n;
    this.#sent += n;
    return out;
  }
}

/**
 * The destination's side: MIG_DATA_WRITE bytes in any sizes, parsed into records as
 * they complete. Errors (bad magic, unknown kind, a record over the limit, data after
 * END) are VfioError EINVAL, more than `maxBytes` in all is EFBIG; either leaves the
 * stream failed: the device cannot resume from it, and the RESUMING -> STOP arc will
 * say so.
 */
export class IncomingStream {
  readonly records: MigRecord[] = [];
  readonly #maxRecord: number;
  readonly #maxBytes: number;
  /** Bytes received and not parsed yet: a list, joined only when a record completes. */
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #headerSeen = false;
  #ended = false;
  #received = 0;
  #failure: VfioError | undefined;

  constructor(maxRecord = DEFAULT_MAX_RECORD, maxBytes = DEFAULT_MAX_DATA) {
    this.#maxRecord = maxRecord;
    this.#maxBytes = maxBytes;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get received(): number {
    return this.#received;
  }

  get failure(): VfioError | undefined {
    return this.#failure;
  }

  write(data: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    try {
      this.#write(data);
    } catch (err) {
      this.#failure = err as VfioError;
      // Nothing can be resumed from it: let go of what it buffered.
      this.#chunks.length = 0;
      this.#buffered = 0;
      this.records.length = 0;
      throw err;
    }
  }

  #write(data: Uint8Array): void {
    if (data.byteLength === 0) return;
    if (this.#ended) this.#fail(`${data.byteLength} bytes after the end of the stream`);
    if (this.#received + data.byteLength > this.#maxBytes) {
      throw new VfioError(
        "EFBIG",
        `migration data: more than the device's limit of ${this.#maxBytes} bytes (maxDataBytes)`,
      );
    }
    this.#received += data.byteLength;
    this.#chunks.push(data.slice());
    this.#buffered += data.byteLength;
    if (!this.#headerSeen) {
      const n = Math.min(this.#buffered, STREAM_MAGIC.byteLength);
      const head = this.#peek(n);
      if (!head.every((b, i) => b === STREAM_MAGIC[i])) {
        this.#fail("not a vfio-ts migration stream (bad magic or version)");
      }
      if (n < STREAM_MAGIC.byteLength) return;
      this.#take(n);
      this.#headerSeen = true;
    }
    while (this.#buffered >= RECORD_HEADER) {
      const header = this.#peek(RECORD_HEADER);
      if (header.every((b, i) => b === STREAM_MAGIC[i])) {
        this.#take(RECORD_HEADER); // a new segment
        continue;
      }
      const kind = header[0]!;
      const length = new DataView(header.buffer, header.byteOffset).getUint32(4, true);
      if (!isKind(kind)) this.#fail(`unknown record kind ${kind}`);
      if (length > this.#maxRecord) {
        this.#fail(`a ${length}-byte record exceeds the ${this.#maxRecord}-byte limit`);
      }
      if (this.#buffered - RECORD_HEADER < length) return;
      this.#take(RECORD_HEADER);
      const payload = this.#take(length);
      if (kind === RecordKind.END) {
        if (length !== 0) this.#fail("END record with a payload");
        if (this.#buffered !== 0) this.#fail(`${this.#buffered} bytes after the END record`);
        this.#ended = true;
      } else {
        this.records.push({ kind, payload });
      }
    }
  }

  /** The first n buffered bytes, left in place. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.byteLength >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.#chunks) {
      if (at === n) break;
      const part = Math.min(n - at, c.byteLength);
      out.set(c.subarray(0, part), at);
      at += part;
    }
    return out;
  }

  /** Removes and returns the first n buffered bytes. */
  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0]!;
      const part = Math.min(n - at, c.byteLength);
      out.set(c.subarray(0, part), at);
      at += part;
      if (part === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(part);
    }
    this.#buffered -= n;
    return out;
  }

  #fail(message: string): never {
    throw new VfioError("EINVAL", `migration data: ${message}`);
  }
}

function isKind(k: number): k is RecordKind {
  return (
    k === RecordKind.PRECOPY ||
    k === RecordKind.FRAMEWORK ||
    k === RecordKind.DEVICE ||
    k === RecordKind.END
  );
}
