import { VfioError } from "../errors.js";
import { mmap, munmap, PROT_READ, PROT_WRITE } from "../sys/index.js";
import type { RegionInfo } from "./backend.js";
import { type MmioGate, MmioWindow } from "./mmio-window.js";
import { regionName, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE } from "./vfio-abi.js";

/**
 * The mmapped parts of one region: one MmioWindow per mappable area (sparse regions
 * have several). The accessors take offsets relative to the region, so a driver can
 * address registers by their BAR offset without knowing how the region is split.
 */
export class MappedRegion {
  readonly index: number;
  readonly info: RegionInfo;
  readonly windows: readonly MmioWindow[];
  readonly #onClose: () => void;
  #closed = false;

  constructor(info: RegionInfo, windows: readonly MmioWindow[], onClose: () => void) {
    this.index = info.index;
    this.info = info;
    this.windows = windows;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while every window is unmapped (zapped or never touched). */
  get zapped(): boolean {
    return this.windows.every((w) => w.zapped);
  }

  /** The window containing region offset [offset, offset+length), and the offset inside it. */
  locate(offset: bigint | number, length = 1): { window: MmioWindow; offset: number } {
    const off = BigInt(offset);
    for (const w of this.windows) {
      if (off >= w.offset && off + BigInt(length) <= w.offset + BigInt(w.size)) {
        return { window: w, offset: Number(off - w.offset) };
      }
    }
    throw new VfioError(
      "EINVAL",
      `${regionName(this.index)}: [${off}, +${length}) is not inside one mmapped area ` +
        "(use DeviceHandle.read/write for trapped parts)",
    );
  }

  /** Reads a byte of the mmapped region (in the area that holds `offset`). */
  read8(offset: bigint | number): number {
    const l = this.locate(offset, 1);
    return l.window.read8(l.offset);
  }
  /** Reads a little-endian 16-bit value of the mmapped region. */
  read16(offset: bigint | number): number {
    const l = this.locate(offset, 2);
    return l.window.read16(l.offset);
  }
  /** Reads a little-endian 32-bit value of the mmapped region. */
  read32(offset: bigint | number): number {
    const l = this.locate(offset, 4);
    return l.window.read32(l.offset);
  }
  /** Reads a little-endian 64-bit value of the mmapped region. */
  read64(offset: bigint | number): bigint {
    const l = this.locate(offset, 8);
    return l.window.read64(l.offset);
  }
  /** Writes a byte to the mmapped region. */
  write8(offset: bigint | number, v: number): void {
    const l = this.locate(offset, 1);
    l.window.write8(l.offset, v);
  }
  /** Writes a little-endian 16-bit value to the mmapped region. */
  write16(offset: bigint | number, v: number): void {
    const l = this.locate(offset, 2);
    l.window.write16(l.offset, v);
  }
  /** Writes a little-endian 32-bit value to the mmapped region. */
  write32(offset: bigint | number, v: number): void {
    const l = this.locate(offset, 4);
    l.window.write32(l.offset, v);
  }
  /** Writes a little-endian 64-bit value to the mmapped region. */
  write64(offset: bigint | number, v: bigint): void {
    const l = this.locate(offset, 8);
    l.window.write64(l.offset, v);
  }
  /** Copies `length` bytes out of the mmapped region; the range must lie in one mmap area. */
  read(offset: bigint | number, length: number): Uint8Array {
    const l = this.locate(offset, length);
    return l.window.read(l.offset, length);
  }
  /** Copies `data` into the mmapped region; the range must lie in one mmap area. */
  write(offset: bigint | number, data: Uint8Array): void {
    const l = this.locate(offset, data.byteLength);
    l.window.write(l.offset, data);
  }

  /** @internal Unmaps every window (the device blocked memory access). */
  zap(): void {
    for (const w of this.windows) w.zap();
  }

  /** Unmaps for good. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.windows) w.close();
    this.#onClose();
  }
}

/**
 * Builds the windows of a mappable region over its fd (which stays the caller's) and
 * maps them right away unless the gate blocks access, so mmap errors surface here
 * rather than at the first register access.
 */
export function mapRegion(
  info: RegionInfo,
  device: string,
  gate: MmioGate,
  onClose: () => void,
): MappedRegion {
  const readable = (info.flags & VFIO_REGION_INFO_FLAG_READ) !== 0;
  const writable = (info.flags & VFIO_REGION_INFO_FLAG_WRITE) !== 0;
  const prot = (readable ? PROT_READ : 0) | (writable ? PROT_WRITE : 0);
  const windows = info.mmapAreas.map((a) => {
    const label = `${device} ${regionName(info.index)} mmap [0x${a.offset.toString(16)}, +0x${a.size.toString(16)})`;
    return new MmioWindow(info.index, a.offset, Number(a.size), label, gate, {
      readable,
      writable,
      map: () => mmap(info.fd, info.offset + a.offset, Number(a.size), prot),
      unmap: (ab) => {
        munmap(ab);
      },
    });
  });
  try {
    if (readable && gate.blockedReason() === null) for (const w of windows) void w.buffer;
  } catch (err) {
    for (const w of windows) w.close();
    throw err;
  }
  return new MappedRegion(info, windows, onClose);
}
