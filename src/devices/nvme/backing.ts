/**
 * Where a namespace's blocks live: memory (sparse, allocated in 1 MiB chunks on first
 * write, so `--size 1G` costs nothing until written), or a file or block device read
 * and written with positioned I/O on libuv's thread pool, so a slow disk never holds
 * the server's event loop.
 */
import {
  closeSync,
  fdatasync,
  fstatSync,
  openSync,
  read,
  readFileSync,
  write,
  writeSync,
} from "node:fs";
import { promisify } from "node:util";
import { VfioError } from "../../errors.js";

/** Where an NVMe namespace's blocks live: memory or a file, read and written by offset. */
export interface BackingStore {
  /** Bytes. */
  readonly size: number;
  readonly description: string;
  /** Reads `length` bytes at byte `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Writes `data` at byte `offset`. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes [offset, +length) read as zeroes (Write Zeroes, deallocate). */
  zero(offset: number, length: number): Promise<void>;
  /** Makes written data durable (Flush, shutdown). */
  flush(): Promise<void>;
  /** Releases the storage (closes the file). */
  close(): void;
}

const CHUNK = 1 << 20;
/** The allocation unit of MemoryBacking: 1 MiB. */
export const MEMORY_CHUNK = CHUNK;

/** Blocks in memory, sparse: 1 MiB chunks allocated on first write. */
export class MemoryBacking implements BackingStore {
  readonly size: number;
  readonly #chunks = new Map<number, Uint8Array>();
  #onChange: ((offset: number, length: number) => void) | undefined;

  constructor(size: number) {
    checkSize(size);
    this.size = size;
  }

  get description(): string {
    return `${this.size} bytes of memory`;
  }

  /** Chunks actually allocated (for tests: deallocate gives memory back). */
  get allocatedChunks(): number {
    return this.#chunks.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.readSync(offset, length);
  }

  /** The indexes of the 1 MiB chunks allocated (written and not deallocated since), ascending. */
  allocatedChunkIndexes(): number[] {
    return [...this.#chunks.keys()].sort((a, b) => a - b);
  }

  /**
   * Has `listener` told of every range written or zeroed from now on (migration's dirty
   * tracking); undefined stops it.
   */
  trackChanges(listener: ((offset: number, length: number) => void) | undefined): void {
    this.#onChange = listener;
  }

  /** Reads `length` bytes at `offset` synchronously (unwritten chunks read as zeroes). */
  readSync(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.#each(offset, length, (chunk, at, n, done) => {
      const c = this.#chunks.get(chunk);
      if (c) out.set(c.subarray(at, at + n), done);
    });
    return out;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#each(offset, data.byteLength, (chunk, at, n, done) => {
      let c = this.#chunks.get(chunk);
      if (!c) {
        c = new Uint8Array(CHUNK);
        this.#chunks.set(chunk, c);
      }
      c.set(data.subarray(done, done + n), at);
    });
    this.#onChange?.(offset, data.byteLength);
  }

  async zero(offset: number, length: number): Promise<void> {
    this.#each(offset, length, (chunk, at, n) => {
      if (n === CHUNK) this.#chunks.delete(chunk);
      else this.#chunks.get(chunk)?.fill(0, at, at + n);
    });
    this.#onChange?.(offset, length);
  }

  async flush(): Promise<void> {}

  close(): void {
    this.#chunks.clear();
  }

  #each(
    offset: number,
    length: number,
    f: (chunk: number, at: number, n: number, done: number) => void,
  ): void {
    checkRange(offset, length, this.size);
    for (let done = 0; done < length; ) {
      const pos = offset + done;
      const at = pos % CHUNK;
      const n = Math.min(CHUNK - at, length - done);
      f(Math.floor(pos / CHUNK), at, n, done);
      done += n;
    }
  }
}

const readAsync = promisify(read);
const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const ZEROES = new Uint8Array(CHUNK);

/**
 * Blocks in a file or block device, read and written with positioned I/O on libuv's thread pool.
 */
export class FileBacking implements BackingStore {
  readonly size: number;
  readonly description: string;
  #fd: number;

  /**
   * Opens `path` read-write. A regular file smaller than `size` is extended (sparse),
   * and a missing one is created when `size` is given; without `size` a file or block
   * device gives its own size.
   */
  constructor(path: string, size?: number) {
    this.#fd = openBacking(path, size);
    try {
      const st = fstatSync(this.#fd);
      let own: number;
      if (st.isBlockDevice()) own = blockDeviceSize(st.rdev);
      else if (st.isFile()) own = st.size;
      else throw new VfioError("EINVAL", `${path} is neither a regular file nor a block device`);
      if (size === undefined) size = own;
      else if (size > own) {
        if (!st.isFile()) {
          throw new VfioError("EINVAL", `${path} holds ${own} bytes, fewer than --size ${size}`);
        }
        // Extending with a write at the end keeps the file sparse.
        writeSyncAt(this.#fd, size);
      }
      checkSize(size);
      this.size = size;
      this.description = `${path} (${size} bytes)`;
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length, this.size);
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const { bytesRead } = await readAsync(this.#fd, out, done, length - done, offset + done);
      if (bytesRead === 0) break; // past the end of a file: zeroes
      done += bytesRead;
    }
    return out;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(offset, data.byteLength, this.size);
    for (let done = 0; done < data.byteLength; ) {
      const { bytesWritten } = await writeAsync(
        this.#fd,
        data,
        done,
        data.byteLength - done,
        offset + done,
      );
      done += bytesWritten;
    }
  }

  async zero(offset: number, length: number): Promise<void> {
    checkRange(offset, length, this.size);
    for (let done = 0; done < length; done += CHUNK) {
      await this.write(offset + done, ZEROES.subarray(0, Math.min(CHUNK, length - done)));
    }
  }

  async flush(): Promise<void> {
    await fdatasyncAsync(this.#fd);
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

function openBacking(path: string, size: number | undefined): number {
  try {
    return openSync(path, "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    if (size === undefined) {
      throw new VfioError("ENOENT", `${path} does not exist (give a size to create it)`);
    }
    checkSize(size);
    // O_EXCL: a file that appeared meanwhile is not truncated by us.
    return openSync(path, "wx+");
  }
}

function writeSyncAt(fd: number, size: number): void {
  // One zero byte at size-1: the file's length becomes `size` without writing the rest.
  if (fstatSync(fd).size < size) writeSync(fd, new Uint8Array(1), 0, 1, size - 1);
}

/** A block device's size from sysfs (512-byte sectors), since fstat reports 0. */
function blockDeviceSize(rdev: number): number {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
  const sectors = Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, "utf8").trim());
  return sectors * 512;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new VfioError("EINVAL", `a backing store needs a positive size, got ${size}`);
  }
}

function checkRange(offset: number, length: number, size: number): void {
  if (offset < 0 || length < 0 || offset + length > size) {
    throw new VfioError("EINVAL", `backing access [${offset}, +${length}) outside ${size} bytes`);
  }
}

/** Parses a size: bytes, or with a K/M/G/T suffix (powers of 1024). */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec(text.trim());
  if (!m) throw new VfioError("EINVAL", `bad size "${text}" (e.g. 64M, 1G)`);
  const shift = { "": 0, K: 10, M: 20, G: 30, T: 40 }[m[2]!.toUpperCase() as "" | "K"]!;
  return Number(m[1]) * 2 ** shift;
}
