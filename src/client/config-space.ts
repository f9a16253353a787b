import { VfioError } from "../errors.js";
import {
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
} from "../pci/regs.js";
import { type CapabilityInfo, type WalkResult, walkCapabilities } from "../pci/walk.js";
import { VFIO_PCI_CONFIG_REGION_INDEX } from "./vfio-abi.js";

/** Region access as DeviceHandle offers it (config writes go through its MMIO tracking). */
export interface RegionIo {
  /** Reads `length` bytes at `offset` of region `index`. */
  read(index: number, offset: bigint | number, length: number): Promise<Uint8Array>;
  /** Writes `data` at `offset` of region `index`. */
  write(index: number, offset: bigint | number, data: Uint8Array): Promise<void>;
  /** The size of region `index` in bytes. */
  regionSize(index: number): Promise<bigint>;
}

/**
 * Typed access to PCI configuration space (the vfio-pci config region). Every write goes
 * through the device's region write, so clearing PCI_COMMAND_MEMORY here zaps BAR
 * mappings exactly as a raw config write would.
 */
export class ConfigSpace {
  readonly #io: RegionIo;

  constructor(io: RegionIo) {
    this.#io = io;
  }

  /** Reads `length` bytes of config space at `offset`, as the device side virtualizes it. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.#io.read(VFIO_PCI_CONFIG_REGION_INDEX, offset, length);
  }

  /** Writes `data` to config space at `offset`; the device side keeps only the writable bits. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    return this.#io.write(VFIO_PCI_CONFIG_REGION_INDEX, offset, data);
  }

  /** Reads one config byte. */
  async read8(offset: number): Promise<number> {
    return (await this.read(offset, 1))[0]!;
  }

  /** Reads a little-endian config word. */
  async read16(offset: number): Promise<number> {
    const b = await this.read(offset, 2);
    return b[0]! | (b[1]! << 8);
  }

  /** Reads a little-endian config dword. */
  async read32(offset: number): Promise<number> {
    const b = await this.read(offset, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  /** Writes one config byte. */
  write8(offset: number, value: number): Promise<void> {
    return this.write(offset, Uint8Array.of(value & 0xff));
  }

  /** Writes a little-endian config word. */
  write16(offset: number, value: number): Promise<void> {
    return this.write(offset, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff));
  }

  /** Writes a little-endian config dword. */
  write32(offset: number, value: number): Promise<void> {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.write(offset, b);
  }

  /** Sets and clears bits of PCI_COMMAND with one read-modify-write. */
  async updateCommand(set: number, clear = 0): Promise<number> {
    const cur = await this.read16(PCI_COMMAND);
    const next = (cur | set) & ~clear & 0xffff;
    if (next !== cur) await this.write16(PCI_COMMAND, next);
    return next;
  }

  /** PCI_COMMAND_MEMORY on or off; off zaps every mmapped BAR until it is on again. */
  enableMemory(on = true): Promise<number> {
    return on ? this.updateCommand(PCI_COMMAND_MEMORY) : this.updateCommand(0, PCI_COMMAND_MEMORY);
  }

  /** PCI_COMMAND_IO on or off; off makes every I/O BAR access fail with EIO. */
  enableIo(on = true): Promise<number> {
    return on ? this.updateCommand(PCI_COMMAND_IO) : this.updateCommand(0, PCI_COMMAND_IO);
  }

  /** PCI_COMMAND_MASTER: the device may DMA only while this is set. */
  enableBusMaster(on = true): Promise<number> {
    return on ? this.updateCommand(PCI_COMMAND_MASTER) : this.updateCommand(0, PCI_COMMAND_MASTER);
  }

  /** The whole config space (up to 4 KiB) as one snapshot. */
  async snapshot(): Promise<Uint8Array> {
    const size = await this.#io.regionSize(VFIO_PCI_CONFIG_REGION_INDEX);
    const n = Number(size < 4096n ? size : 4096n);
    if (n === 0) throw new VfioError("ENODEV", "the device has an empty config region");
    return this.read(0, n);
  }

  /**
   * Walks the standard and extended capability lists of a snapshot. Bounded and
   * cycle-safe: the device is not trusted, so malformations land in `problems`.
   */
  async capabilities(): Promise<WalkResult> {
    return walkCapabilities(await this.snapshot());
  }

  /** The first standard capability with `id` (PCI_CAP_ID_*), if any. */
  async findCapability(id: number): Promise<CapabilityInfo | undefined> {
    return (await this.capabilities()).standard.find((c) => c.id === id);
  }

  /** The first extended capability with `id` (PCI_EXT_CAP_ID_*), if any. */
  async findExtCapability(id: number): Promise<CapabilityInfo | undefined> {
    return (await this.capabilities()).extended.find((c) => c.id === id);
  }
}
