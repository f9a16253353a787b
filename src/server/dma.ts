import { VfioError } from "../errors.js";
import {
  type DmaAccessKind,
  type DmaWindow,
  IommuDomain,
  IommuFaultError,
  untilIdle,
} from "../iommu/index.js";
import { closeFdQuietly, copyGuarded } from "../sys/index.js";
import type { DeviceDma, DmaAccessOptions, DmaSegment, DmaWindowInfo } from "./device.js";
import {
  type Backing,
  backingFor,
  type DmaFdPolicy,
  type DmaMapArgs,
  releaseBacking,
} from "./dma-backing.js";
import { DirtyLog, type LoggedRange } from "./migration/dirty-log.js";

export type { DmaFdPolicy, DmaMapArgs } from "./dma-backing.js";

/** Client memory reached by messages (windows mapped without an fd). */
export interface DmaRemote {
  read(iova: bigint, count: number): Promise<Uint8Array>;
  write(iova: bigint, data: Uint8Array): Promise<void>;
  /** The client's max_data_xfer_size: the largest count one message may carry. */
  readonly maxXfer: number;
}

export interface DmaHooks {
  onMap?(w: DmaWindowInfo): void;
  onUnmap?(w: DmaWindowInfo): void;
  onFault?(err: IommuFaultError): void;
}

/**
 * The device's DMA engine: the client's windows in an IOMMU domain (ordered, O(log n),
 * type1 rules), each either mmapped from the fd the client passed or reached through
 * DMA_READ/DMA_WRITE messages. Accesses pin the windows they use, so an unmap (or a
 * disconnect) waits for them before releasing the memory, as the spec requires.
 */
export class DmaController implements DeviceDma {
  #domain: IommuDomain<Backing> | null = null;
  #remote: DmaRemote | null = null;
  #retiredFaults = 0;
  #unboundFaults = 0;
  #goneFaults = 0;
  #fdPolicy: DmaFdPolicy = "map";
  /** Dirty-page logging, while the client has it on. */
  #dirty: DirtyLog | undefined;
  readonly #hooks: DmaHooks;

  constructor(hooks: DmaHooks = {}) {
    this.#hooks = hooks;
  }

  /** A client is connected: start an empty domain with its limits. */
  attach(
    remote: DmaRemote,
    maxMappings: number,
    pgsizes: bigint,
    fdPolicy: DmaFdPolicy = "map",
  ): void {
    if (this.#domain !== null) throw new VfioError("EBUSY", "DMA is already attached to a client");
    this.#domain = new IommuDomain<Backing>({ memlockLimit: "infinity", maxMappings, pgsizes });
    this.#remote = remote;
    this.#fdPolicy = fdPolicy;
  }

  /** The client left: drop every window (waiting for in-flight accesses) and its remote. */
  async detach(): Promise<void> {
    const domain = this.#domain;
    if (domain === null) return;
    this.#remote = null;
    this.#dirty = undefined; // its IOVAs were the client's
    await this.#release(domain.unmapAll().windows);
    this.#retiredFaults += domain.faults;
    this.#domain = null;
  }

  get attached(): boolean {
    return this.#domain !== null;
  }

  get faults(): number {
    return (
      this.#retiredFaults + this.#unboundFaults + this.#goneFaults + (this.#domain?.faults ?? 0)
    );
  }

  /** DMA_MAP. Validation errors (EINVAL, EEXIST, ENOSPC) leave nothing behind. */
  map(a: DmaMapArgs): DmaWindowInfo {
    try {
      const domain = this.#need();
      if (!a.readable && !a.writable) {
        throw new VfioError("EINVAL", "DMA_MAP: neither read nor write permission");
      }
      const backing = backingFor(a, this.#fdPolicy);
      let window: DmaWindow<Backing>;
      try {
        window = domain.map(a.iova, a.size, { read: a.readable, write: a.writable }, backing);
      } catch (err) {
        releaseBacking(backing);
        throw err;
      }
      const info = windowInfo(window);
      this.#hooks.onMap?.(info);
      return info;
    } finally {
      if (a.fd !== undefined) closeFdQuietly(a.fd);
    }
  }

  /**
   * DMA_UNMAP of exactly one earlier mapping. The window is gone from the domain at
   * once; its memory is released now, or, if a device access still uses it, by the
   * returned promise (the caller replies only after that).
   */
  unmap(iova: bigint, size: bigint): Promise<void> | undefined {
    return this.#release([this.#need().unmapExact(iova, size)]);
  }

  /** DMA_UNMAP with VFIO_DMA_UNMAP_FLAG_ALL; a promise as for unmap(). */
  unmapAll(): Promise<void> | undefined {
    return this.#release(this.#need().unmapAll().windows);
  }

  /**
   * DMA_LOGGING_START: from now on every device write inside `ranges` (all writes when
   * empty) is logged at about `pageSize` granularity. Returns the page size chosen.
   * EBUSY while logging is already on (stop it first), as the kernel answers.
   */
  startLogging(pageSize: bigint, ranges: readonly LoggedRange[]): bigint {
    this.#need();
    if (this.#dirty) throw new VfioError("EBUSY", "DMA logging is already on");
    this.#dirty = new DirtyLog(pageSize, ranges);
    return this.#dirty.pageSize;
  }

  /** DMA_LOGGING_STOP; stopping what is off is a no-op. */
  stopLogging(): void {
    this.#dirty = undefined;
  }

  get logging(): boolean {
    return this.#dirty !== undefined;
  }

  /** DMA_LOGGING_REPORT: the bitmap of pages written since the last report; clears them. */
  dirtyReport(iova: bigint, length: bigint, pageSize: bigint): Uint8Array {
    if (!this.#dirty) throw new VfioError("EINVAL", "dirty report while DMA logging is off");
    return this.#dirty.report(iova, length, pageSize);
  }

  /**
   * DMA_UNMAP with GET_DIRTY_BITMAP: the window's dirty bitmap, taken before it goes.
   * EINVAL while logging is off, as type1 answers.
   */
  unmapDirty(iova: bigint, size: bigint, pageSize: bigint): Uint8Array {
    if (!this.#dirty) {
      throw new VfioError("EINVAL", "DMA_UNMAP GET_DIRTY_BITMAP while DMA logging is off");
    }
    const w = this.#need().find(iova);
    if (w === undefined || w.iova !== iova || w.size !== size) {
      throw new VfioError(
        "ENOENT",
        `DMA_UNMAP: [0x${iova.toString(16)}, +0x${size.toString(16)}) is not a mapping`,
      );
    }
    return this.#dirty.report(iova, size, pageSize);
  }

  /** Resolves once no access is in flight on any window; undefined when none is now. */
  idle(): Promise<void> | undefined {
    if (this.#domain === null) return undefined;
    return untilIdle(Array.from(this.#domain.windows()));
  }

  windows(): DmaWindowInfo[] {
    return this.#domain ? Array.from(this.#domain.windows(), windowInfo) : [];
  }

  async read(
    iova: bigint | number,
    length: number,
    options?: DmaAccessOptions,
  ): Promise<Uint8Array> {
    const start = toIova(iova);
    const messages = options?.messages === true;
    checkLength(length);
    const access = this.#acquire(start, length, "read");
    try {
      const out = new Uint8Array(length);
      for (const s of access.segments) {
        const at = Number(s.iova - start);
        const len = Number(s.length);
        const b = s.window.value;
        if (b.buffer !== null && !messages) {
          const src = new Uint8Array(b.buffer, b.delta + Number(s.offset), len);
          this.#copy(out.subarray(at, at + len), src, b, s.iova, "read");
        } else {
          await this.#remoteRead(s.iova, out.subarray(at, at + len));
        }
      }
      return out;
    } finally {
      access.release();
    }
  }

  async write(iova: bigint | number, data: Uint8Array, options?: DmaAccessOptions): Promise<void> {
    const start = toIova(iova);
    const messages = options?.messages === true;
    checkLength(data.byteLength);
    const access = this.#acquire(start, data.byteLength, "write");
    try {
      for (const s of access.segments) {
        const at = Number(s.iova - start);
        const part = data.subarray(at, at + Number(s.length));
        const b = s.window.value;
        if (b.buffer !== null && !messages) {
          const dst = new Uint8Array(b.buffer, b.delta + Number(s.offset), part.byteLength);
          this.#copy(dst, part, b, s.iova, "write");
        } else await this.#remoteWrite(s.iova, part);
        this.#dirty?.mark(s.iova, s.length);
      }
    } finally {
      access.release();
    }
  }

  async readSegments(
    segments: readonly DmaSegment[],
    options?: DmaAccessOptions,
  ): Promise<Uint8Array> {
    const total = this.#checkSegments(segments, "read");
    const out = new Uint8Array(total);
    let at = 0;
    for (const s of segments) {
      // Sealed, fd-backed windows are copied synchronously; only messages wait.
      out.set(await this.read(s.iova, s.length, options), at);
      at += s.length;
    }
    return out;
  }

  async writeSegments(
    segments: readonly DmaSegment[],
    data: Uint8Array,
    options?: DmaAccessOptions,
  ): Promise<void> {
    const total = this.#checkSegments(segments, "write");
    if (total !== data.byteLength) {
      throw new VfioError(
        "EINVAL",
        `DMA scatter-gather write: segments hold ${total} bytes, data has ${data.byteLength}`,
      );
    }
    let at = 0;
    for (const s of segments) {
      await this.write(s.iova, data.subarray(at, at + s.length), options);
      at += s.length;
    }
  }

  /** Translates every segment (faulting on the first bad one); returns the total length. */
  #checkSegments(segments: readonly DmaSegment[], kind: DmaAccessKind): number {
    let total = 0;
    for (const s of segments) {
      checkLength(s.length);
      this.#translate(toIova(s.iova), s.length, kind);
      total += s.length;
    }
    checkLength(total);
    return total;
  }

  view(
    iova: bigint | number,
    length: number,
    access: "read" | "write" | "readwrite" = "readwrite",
  ): Uint8Array {
    const start = toIova(iova);
    checkLength(length);
    const kinds: DmaAccessKind[] = access === "readwrite" ? ["read", "write"] : [access];
    let segs = this.#translate(start, length, kinds[0]!);
    if (kinds.length > 1) segs = this.#translate(start, length, kinds[1]!);
    const s = segs[0]!;
    const b = s.window.value;
    if (segs.length !== 1) {
      throw new VfioError(
        "EINVAL",
        `DMA view at 0x${start.toString(16)} spans ${segs.length} windows`,
      );
    }
    if (b.buffer === null) {
      throw new VfioError(
        "EINVAL",
        `DMA view at 0x${start.toString(16)}: the window has no fd (use dma.read/dma.write)`,
      );
    }
    if (!b.sealed) {
      // The client could truncate the file under a view, and the device's next touch
      // would kill the server with SIGBUS: only memory that cannot shrink is handed out.
      throw new VfioError(
        "EPERM",
        `DMA view at 0x${start.toString(16)}: the client's memory is not a memfd sealed ` +
          "against shrinking, so it could vanish under a view (use dma.read/dma.write)",
      );
    }
    if (this.#dirty && access !== "read") {
      // Writes through a view bypass us, and logging must see every write.
      throw new VfioError(
        "EBUSY",
        `DMA view at 0x${start.toString(16)}: DMA logging is on, so writes must go through dma.write`,
      );
    }
    if (!b.writable) {
      // A JS write into a PROT_READ mapping would crash the process, so no view at all.
      throw new VfioError(
        "EACCES",
        `DMA view at 0x${start.toString(16)}: the client's fd is read-only`,
      );
    }
    return new Uint8Array(b.buffer, b.delta + Number(s.offset), length);
  }

  /** One copy between a mapped window and device memory (see Backing.sealed). */
  #copy(dst: Uint8Array, src: Uint8Array, b: Backing, iova: bigint, kind: DmaAccessKind): void {
    if (b.sealed) {
      dst.set(src);
      return;
    }
    try {
      copyGuarded(dst, src);
    } catch (err) {
      if ((err as { code?: string }).code !== "EFAULT") throw err;
      this.#goneFaults++;
      const fault = new IommuFaultError(iova, BigInt(dst.byteLength), kind, iova, "gone");
      this.#hooks.onFault?.(fault);
      throw fault;
    }
  }

  #need(): IommuDomain<Backing> {
    if (this.#domain === null) throw new VfioError("ENOTCONN", "no client is connected");
    return this.#domain;
  }

  #translate(iova: bigint, length: number, kind: DmaAccessKind) {
    return this.#faulting(iova, length, kind, (d) => d.translate(iova, BigInt(length), kind));
  }

  #acquire(iova: bigint, length: number, kind: DmaAccessKind) {
    return this.#faulting(iova, length, kind, (d) => d.acquire(iova, BigInt(length), kind));
  }

  /** Runs a translation, reporting IOMMU faults (with no client, every access faults). */
  #faulting<T>(
    iova: bigint,
    length: number,
    kind: DmaAccessKind,
    f: (d: IommuDomain<Backing>) => T,
  ): T {
    try {
      if (this.#domain === null) {
        this.#unboundFaults++;
        throw new IommuFaultError(iova, BigInt(length), kind, iova, "unmapped");
      }
      return f(this.#domain);
    } catch (err) {
      if (err instanceof IommuFaultError) this.#hooks.onFault?.(err);
      throw err;
    }
  }

  async #remoteRead(iova: bigint, into: Uint8Array): Promise<void> {
    const remote = this.#remoteOrFail();
    for (let done = 0; done < into.byteLength; ) {
      const n = Math.min(remote.maxXfer, into.byteLength - done);
      const data = await remote.read(iova + BigInt(done), n);
      if (data.byteLength !== n) {
        throw new VfioError(
          "EIO",
          `DMA_READ at 0x${(iova + BigInt(done)).toString(16)}: client returned ${data.byteLength} of ${n} bytes`,
        );
      }
      into.set(data, done);
      done += n;
    }
  }

  async #remoteWrite(iova: bigint, data: Uint8Array): Promise<void> {
    const remote = this.#remoteOrFail();
    for (let done = 0; done < data.byteLength; ) {
      const n = Math.min(remote.maxXfer, data.byteLength - done);
      await remote.write(iova + BigInt(done), data.subarray(done, done + n));
      done += n;
    }
  }

  #remoteOrFail(): DmaRemote {
    if (this.#remote === null)
      throw new VfioError("ENOTCONN", "the client disconnected during DMA");
    return this.#remote;
  }

  /**
   * Releases unmapped windows: synchronously when no access is in flight (the common
   * case, which keeps DMA_UNMAP on the server's synchronous reply path), else once the
   * last one finishes.
   */
  #release(windows: readonly DmaWindow<Backing>[]): Promise<void> | undefined {
    for (const w of windows) this.#hooks.onUnmap?.(windowInfo(w));
    const idle = untilIdle(windows);
    if (idle === undefined) {
      munmapAll(windows);
      return undefined;
    }
    return idle.then(() => munmapAll(windows));
  }
}

function munmapAll(windows: readonly DmaWindow<Backing>[]): void {
  for (const w of windows) releaseBacking(w.value);
}

function windowInfo(w: DmaWindow<Backing>): DmaWindowInfo {
  return {
    iova: w.iova,
    size: w.size,
    readable: w.perms.read,
    writable: w.perms.write,
    mapped: w.value.buffer !== null,
  };
}

function toIova(v: bigint | number): bigint {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) throw new VfioError("EINVAL", `bad IOVA ${v}`);
    return BigInt(v);
  }
  if (typeof v !== "bigint" || v < 0n) throw new VfioError("EINVAL", `bad IOVA ${String(v)}`);
  return v;
}

function checkLength(n: number): void {
  if (!Number.isSafeInteger(n) || n <= 0) throw new VfioError("EINVAL", `bad DMA length ${n}`);
}
