import { VfioError } from "../errors.js";

/**
 * What a window asks its device before every access: null when access may go ahead,
 * else the reason it is blocked (memory decoding off, reset in progress, closed).
 */
export interface MmioGate {
  blockedReason(): string | null;
}

/** Maps and unmaps the area's bytes; the window owns the mapping it gets. */
export interface MmioMapper {
  /** The protection the area is mapped with (the region's READ/WRITE flags). */
  readonly readable: boolean;
  readonly writable: boolean;
  map(): ArrayBuffer;
  unmap(ab: ArrayBuffer): void;
}

type Access = "read" | "write";

/**
 * One mmapped area of a device region (a BAR or a sparse-mmap part of one), accessed
 * through methods so MMIO blocking stays synchronous and explicit (seeds 000-002).
 *
 * When the driver disables memory decoding or resets the device, the device zaps the
 * window: the mapping is unmapped, so its ArrayBuffer detaches and stale views see
 * length 0. While blocked, every accessor throws EIO naming the reason — the
 * user-space analog of the SIGBUS the kernel delivers. Once access is allowed again,
 * the next access maps the area back in ("fault in"), transparently.
 */
export class MmioWindow {
  /** Region index this area belongs to. */
  readonly region: number;
  /** Offset of the area inside the region. */
  readonly offset: bigint;
  readonly size: number;
  readonly #label: string;
  readonly #gate: MmioGate;
  readonly #mapper: MmioMapper;
  #ab: ArrayBuffer | null = null;
  #dv: DataView | null = null;
  #bytes: Uint8Array | null = null;
  #u16: Uint16Array | null = null;
  #u32: Uint32Array | null = null;
  #u64: BigUint64Array | null = null;
  #closed = false;
  #faults = 0;

  constructor(
    region: number,
    offset: bigint,
    size: number,
    label: string,
    gate: MmioGate,
    mapper: MmioMapper,
  ) {
    this.region = region;
    this.offset = offset;
    this.size = size;
    this.#label = label;
    this.#gate = gate;
    this.#mapper = mapper;
  }

  /** True while the area is not mapped (zapped, never touched, or closed). */
  get zapped(): boolean {
    return this.#ab === null;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How many times the area was mapped in (first access plus every fault-in after a zap). */
  get faultIns(): number {
    return this.#faults;
  }

  /**
   * The live mapping. It detaches at the next zap: hold it only across synchronous
   * code that cannot disable memory, and prefer the accessors otherwise. Writing
   * through it into a region mapped read-only faults the process (SIGSEGV); the
   * accessors refuse that with EACCES instead.
   */
  get buffer(): ArrayBuffer {
    this.#ensure(0, 0, "read");
    return this.#ab!;
  }

  // Device registers care about access width: a 32-bit register read as four byte
  // loads returns something else (QEMU's edu answers 0). DataView reads byte by byte
  // in V8's builtins, so aligned accesses go through typed-array elements, which are
  // one load or store of their width; only misaligned ones fall back to DataView.
  /** One 8-bit load from the mapped BAR (EIO while memory decoding is off). */
  read8(off: number): number {
    this.#ensure(off, 1, "read");
    return this.#bytes![off]!;
  }
  /** One 16-bit load from the mapped BAR. */
  read16(off: number): number {
    this.#ensure(off, 2, "read");
    return (off & 1) === 0 ? this.#u16![off >> 1]! : this.#dv!.getUint16(off, true);
  }
  /** One 32-bit load from the mapped BAR, as 32-bit registers need. */
  read32(off: number): number {
    this.#ensure(off, 4, "read");
    return (off & 3) === 0 ? this.#u32![off >> 2]! : this.#dv!.getUint32(off, true);
  }
  /** One 64-bit load from the mapped BAR. */
  read64(off: number): bigint {
    this.#ensure(off, 8, "read");
    return (off & 7) === 0 ? this.#u64![off >> 3]! : this.#dv!.getBigUint64(off, true);
  }
  /** One 8-bit store to the mapped BAR. */
  write8(off: number, v: number): void {
    this.#ensure(off, 1, "write");
    this.#bytes![off] = v;
  }
  /** One 16-bit store to the mapped BAR. */
  write16(off: number, v: number): void {
    this.#ensure(off, 2, "write");
    if ((off & 1) === 0) this.#u16![off >> 1] = v;
    else this.#dv!.setUint16(off, v, true);
  }
  /** One 32-bit store to the mapped BAR. */
  write32(off: number, v: number): void {
    this.#ensure(off, 4, "write");
    if ((off & 3) === 0) this.#u32![off >> 2] = v >>> 0;
    else this.#dv!.setUint32(off, v >>> 0, true);
  }
  /** One 64-bit store to the mapped BAR. */
  write64(off: number, v: bigint): void {
    this.#ensure(off, 8, "write");
    const u = BigInt.asUintN(64, v);
    if ((off & 7) === 0) this.#u64![off >> 3] = u;
    else this.#dv!.setBigUint64(off, u, true);
  }

  /** A copy of `length` bytes at `off`. */
  read(off: number, length: number): Uint8Array {
    this.#ensure(off, length, "read");
    return this.#bytes!.slice(off, off + length);
  }

  /** Copies `data` into the mapped BAR at `off`. */
  write(off: number, data: Uint8Array): void {
    this.#ensure(off, data.byteLength, "write");
    this.#bytes!.set(data, off);
  }

  /** Unmaps now (memory disabled, reset); the next permitted access maps again. */
  zap(): void {
    const ab = this.#ab;
    this.#ab = null;
    this.#dv = null;
    this.#bytes = null;
    this.#u16 = null;
    this.#u32 = null;
    this.#u64 = null;
    if (ab !== null) this.#mapper.unmap(ab);
  }

  /** Unmaps for good; every later access throws EBADF. Idempotent. */
  close(): void {
    this.#closed = true;
    this.zap();
  }

  #ensure(off: number, length: number, access: Access): void {
    if (this.#closed) {
      throw new VfioError("EBADF", `${this.#label}: the mapping was closed`);
    }
    if (access === "read" ? !this.#mapper.readable : !this.#mapper.writable) {
      throw new VfioError("EACCES", `${this.#label}: the region does not allow ${access}s`);
    }
    if (
      !Number.isInteger(off) ||
      !Number.isInteger(length) ||
      off < 0 ||
      length < 0 ||
      off + length > this.size
    ) {
      throw new VfioError(
        "EINVAL",
        `${this.#label}: access of ${length} bytes at offset ${off} is outside the ${this.size}-byte mapping`,
      );
    }
    const blocked = this.#gate.blockedReason();
    if (blocked !== null) {
      // A window can be mapped while blocked only if it was never zapped: zap it now
      // so stale ArrayBuffer views stop working too.
      this.zap();
      throw new VfioError("EIO", `${this.#label}: access blocked, ${blocked}`);
    }
    if (this.#ab === null) {
      const ab = this.#mapper.map();
      this.#ab = ab;
      this.#dv = new DataView(ab);
      this.#bytes = new Uint8Array(ab);
      // Element views over the whole elements: an aligned access that fits the
      // mapping always fits these.
      const n = ab.byteLength;
      this.#u16 = new Uint16Array(ab, 0, n >> 1);
      this.#u32 = new Uint32Array(ab, 0, n >> 2);
      this.#u64 = new BigUint64Array(ab, 0, Math.floor(n / 8));
      this.#faults++;
    }
  }
}
