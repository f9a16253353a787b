import { EventEmitter } from "node:events";
import { debuglog } from "node:util";
import { VfioError } from "../errors.js";
import { PCI_COMMAND, PCI_COMMAND_MEMORY } from "../pci/regs.js";
import type { DeviceBackend, DeviceInfo, RegionInfo } from "./backend.js";
import { ConfigSpace } from "./config-space.js";
import { type Container, type ContainerDevice, containerOfDevice } from "./container.js";
import { DeviceIrqs } from "./device-irqs.js";
import { DeviceMigration } from "./device-migration.js";
import { checkDeviceInfo } from "./info-checks.js";
import type { IrqEvent } from "./irq-vector.js";
import { type MappedRegion, mapRegion } from "./mapped-region.js";
import { MmioBlocking } from "./mmio-blocking.js";
import { type Offset, RegionAccess } from "./region-access.js";
import {
  regionName,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from "./vfio-abi.js";

const debug = debuglog("vfio-client");

/** Events of a DeviceHandle: interrupts, the device side going away, close. */
export interface DeviceHandleEvents {
  /** An enabled interrupt vector fired. */
  irq: [ev: IrqEvent];
  /** The device side went away; pending requests failed, mappings are blocked. */
  disconnect: [err: Error];
  /** Same as 'disconnect', emitted only when someone listens (so it never throws). */
  error: [err: Error];
  /** After close() finished. */
  close: [];
}

/** Options of a DeviceHandle. */
export interface DeviceHandleOptions {
  /** Name used in messages; default "<backend kind> device". */
  name?: string;
}

/**
 * A device as a user-level driver sees it: the VFIO device fd, over any DeviceBackend.
 * Regions (read/write of any length, typed 1/2/4/8-byte accessors, mmap), config space
 * helpers with capability walks, interrupts, reset, and MMIO blocking: when the driver
 * clears PCI_COMMAND_MEMORY (by any config write) or resets the device, every mmapped
 * BAR is zapped and faults back in on the next access once memory is enabled again.
 */
export class DeviceHandle extends EventEmitter<DeviceHandleEvents> implements ContainerDevice {
  readonly backend: DeviceBackend;
  readonly name: string;
  readonly info: DeviceInfo;
  readonly config: ConfigSpace;
  readonly irqs: DeviceIrqs;
  readonly #mmio: MmioBlocking;
  readonly #access: RegionAccess;
  #migration: DeviceMigration | undefined;
  #disconnected: Error | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  /** Opens a device over `backend`: reads its info and its memory-enable state. */
  static async open(
    backend: DeviceBackend,
    options: DeviceHandleOptions = {},
  ): Promise<DeviceHandle> {
    const info = checkDeviceInfo(await backend.getInfo());
    const dev = new DeviceHandle(backend, info, options.name ?? `${backend.kind} device`);
    if (dev.isPci) await dev.#refreshCommand();
    return dev;
  }

  private constructor(backend: DeviceBackend, info: DeviceInfo, name: string) {
    super();
    this.backend = backend;
    this.info = info;
    this.name = name;
    this.config = new ConfigSpace({
      read: (i, o, l) => this.read(i, o, l),
      write: (i, o, d) => this.write(i, o, d),
      regionSize: (i) => this.regionSize(i),
    });
    this.irqs = new DeviceIrqs(backend, info.numIrqs, (ev) => this.emit("irq", ev));
    this.#mmio = new MmioBlocking(this.isPci, () => {
      if (this.#closed) return "the device is closed";
      if (this.#disconnected !== null)
        return `the device is disconnected (${this.#disconnected.message})`;
      return null;
    });
    this.#access = new RegionAccess(this, this.#mmio);
    backend.onDisconnect((err) => this.#onDisconnect(err));
  }

  get isPci(): boolean {
    return (this.info.flags & VFIO_DEVICE_FLAGS_PCI) !== 0;
  }

  get canReset(): boolean {
    return (this.info.flags & VFIO_DEVICE_FLAGS_RESET) !== 0;
  }

  /** Whether PCI_COMMAND_MEMORY is set as far as this driver knows. */
  get memoryEnabled(): boolean {
    return this.#mmio.memoryEnabled;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the device side went away, or null while it is connected. */
  get disconnectError(): Error | null {
    return this.#disconnected;
  }

  /** Live migration and DMA dirty logging of this device (VFIO_DEVICE_FEATURE). */
  get migration(): DeviceMigration {
    this.#migration ??= new DeviceMigration(this.backend, this.name);
    return this.#migration;
  }

  get container(): Container | undefined {
    return containerOfDevice(this);
  }

  /** VFIO_DEVICE_GET_REGION_INFO, checked and cached (the fd is the device's to close). */
  regionInfo(index: number): Promise<RegionInfo> {
    return this.#access.regionInfo(index);
  }

  /** The size of region `index` in bytes (from its cached region info). */
  async regionSize(index: number): Promise<bigint> {
    return (await this.regionInfo(index)).size;
  }

  /** Reads `length` bytes at `offset` of region `index` (split as the backend needs). */
  read(index: number, offset: Offset, length: number): Promise<Uint8Array> {
    return this.#access.run(index, offset, length, "read", (off) =>
      length === 0
        ? Promise.resolve(new Uint8Array(0))
        : this.backend.regionRead(index, off, length),
    );
  }

  /** Writes `data` at `offset` of region `index`; config writes update MMIO blocking. */
  write(index: number, offset: Offset, data: Uint8Array): Promise<void> {
    return this.#access.run(index, offset, data.byteLength, "write", (off) =>
      this.#send(index, off, data, false),
    );
  }

  /**
   * A posted write (VFIO_USER_F_NO_REPLY, as QEMU sends BAR writes): handed to the
   * transport without waiting for the device, split by max_data_xfer_size. Accesses on
   * one device stay in order, so a later read sees it. Bounds, permissions and MMIO
   * blocking are checked here (the device cannot report a failure back): the promise
   * rejects for those and resolves once the write is sent. A config write that touches
   * PCI_COMMAND is never posted: it is a normal write, and the promise waits for it.
   */
  writePosted(index: number, offset: Offset, data: Uint8Array): Promise<void> {
    return this.#access.run(index, offset, data.byteLength, "write", (off) =>
      this.#send(index, off, data, true),
    );
  }

  /** A checked write to the backend: posted if asked and allowed, PCI_COMMAND tracked. */
  #send(index: number, off: bigint, data: Uint8Array, posted: boolean): Promise<void> {
    if (data.byteLength === 0) return RESOLVED;
    const cmd = this.#mmio.commandByte(index, off, data);
    if (cmd !== undefined) return this.#writeCommand(index, off, data, cmd);
    if (!posted) return this.backend.regionWrite(index, off, data);
    try {
      this.#access.checkPosted(index);
    } catch (err) {
      return Promise.reject(err);
    }
    const post = this.backend.regionWritePosted;
    if (post === undefined) return this.backend.regionWrite(index, off, data);
    try {
      post.call(this.backend, index, off, data);
    } catch (err) {
      return Promise.reject(err);
    }
    return RESOLVED;
  }

  async #writeCommand(index: number, off: bigint, data: Uint8Array, cmd: number): Promise<void> {
    const memOn = (cmd & PCI_COMMAND_MEMORY) !== 0;
    // Block before the device stops decoding, so no access can slip in between.
    if (!memOn) this.#mmio.setMemory(false);
    try {
      await this.backend.regionWrite(index, off, data);
    } catch (err) {
      await this.#refreshCommand().catch(() => {});
      throw err;
    }
    if (memOn) this.#mmio.setMemory(true);
  }

  /** Reads an 8-bit register of region `index`. */
  async read8(index: number, offset: Offset): Promise<number> {
    return (await this.read(index, offset, 1))[0]!;
  }
  /** Reads a little-endian 16-bit register of region `index`. */
  async read16(index: number, offset: Offset): Promise<number> {
    return dv(await this.read(index, offset, 2)).getUint16(0, true);
  }
  /** Reads a little-endian 32-bit register of region `index`. */
  async read32(index: number, offset: Offset): Promise<number> {
    const b = await this.read(index, offset, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  /** Reads a little-endian 64-bit register of region `index`. */
  async read64(index: number, offset: Offset): Promise<bigint> {
    return dv(await this.read(index, offset, 8)).getBigUint64(0, true);
  }
  /** Writes an 8-bit register and waits until the device has taken it. */
  write8(index: number, offset: Offset, v: number): Promise<void> {
    return this.write(index, offset, Uint8Array.of(v & 0xff));
  }
  /** Writes a little-endian 16-bit register and waits until the device has taken it. */
  write16(index: number, offset: Offset, v: number): Promise<void> {
    const b = new Uint8Array(2);
    dv(b).setUint16(0, v & 0xffff, true);
    return this.write(index, offset, b);
  }
  /** Writes a little-endian 32-bit register and waits until the device has taken it. */
  write32(index: number, offset: Offset, v: number): Promise<void> {
    return this.write(index, offset, le32(v));
  }
  /** Writes a little-endian 64-bit register and waits until the device has taken it. */
  write64(index: number, offset: Offset, v: bigint): Promise<void> {
    const b = new Uint8Array(8);
    dv(b).setBigUint64(0, BigInt.asUintN(64, v), true);
    return this.write(index, offset, b);
  }
  /** Posted 8-bit write: sent in order without waiting for a reply (doorbells, hot paths). */
  writePosted8(index: number, offset: Offset, v: number): Promise<void> {
    return this.writePosted(index, offset, Uint8Array.of(v & 0xff));
  }
  /** Posted 16-bit write: sent in order without waiting for a reply. */
  writePosted16(index: number, offset: Offset, v: number): Promise<void> {
    return this.writePosted(index, offset, Uint8Array.of(v & 0xff, (v >>> 8) & 0xff));
  }
  /** Posted 32-bit write: sent in order without waiting for a reply. */
  writePosted32(index: number, offset: Offset, v: number): Promise<void> {
    return this.writePosted(index, offset, le32(v));
  }
  /** Posted 64-bit write: sent in order without waiting for a reply. */
  writePosted64(index: number, offset: Offset, v: bigint): Promise<void> {
    const b = new Uint8Array(8);
    dv(b).setBigUint64(0, BigInt.asUintN(64, v), true);
    return this.writePosted(index, offset, b);
  }

  /**
   * Maps the mappable areas of region `index` (all of it, or its sparse-mmap areas) into
   * this process. The same MappedRegion is returned until it is closed.
   */
  async mmap(index: number): Promise<MappedRegion> {
    const info = await this.regionInfo(index);
    const existing = this.#mmio.mapped(index);
    if (existing !== undefined) return existing;
    if (info.mmapAreas.length === 0 || info.fd < 0) {
      throw new VfioError("EINVAL", `${this.name}: ${regionName(index)} is not mappable`);
    }
    const region = mapRegion(info, this.name, this.#mmio.gateFor(index), () =>
      this.#mmio.untrack(index),
    );
    this.#mmio.track(region);
    return region;
  }

  /**
   * VFIO_DEVICE_RESET. Mapped BARs are zapped and blocked for the duration; interrupts
   * are torn down (re-enable them afterwards); the memory-enable state is re-read.
   */
  async reset(): Promise<void> {
    this.#access.checkUsable("reset");
    if (!this.canReset)
      throw new VfioError(
        "EINVAL",
        `${this.name} does not support reset (no VFIO_DEVICE_FLAGS_RESET)`,
      );
    this.#mmio.beginReset();
    try {
      await this.backend.reset();
    } finally {
      this.#mmio.endReset();
    }
    await this.irqs.disableAll();
    if (this.isPci) await this.#refreshCommand();
  }

  /**
   * Orderly close: leaves the container (its mappings are removed from the device),
   * disables interrupts and closes their eventfds, unmaps every mapping, closes region
   * fds and the backend. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.container?.detach(this);
    } catch (err) {
      debug("%s: leaving the container failed: %s", this.name, (err as Error).message);
    }
    if (this.#disconnected === null) await this.irqs.disableAll();
    this.irqs.closeLocal();
    this.#closed = true;
    const released = this.#access.release();
    this.#mmio.closeAll();
    await released;
    await this.backend.close();
    this.emit("close");
  }

  #onDisconnect(err: Error): void {
    if (this.#disconnected !== null || this.#closed) return;
    this.#disconnected = err;
    this.#mmio.zapAll();
    this.irqs.closeLocal();
    this.container?.detach(this).catch(() => {});
    this.emit("disconnect", err);
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  async #refreshCommand(): Promise<void> {
    const b = await this.backend.regionRead(VFIO_PCI_CONFIG_REGION_INDEX, BigInt(PCI_COMMAND), 2);
    this.#mmio.setCommand(b[0] ?? 0);
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

function le32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  b[0] = v;
  b[1] = v >>> 8;
  b[2] = v >>> 16;
  b[3] = v >>> 24;
  return b;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
