import { EventEmitter } from "node:events";
import { debuglog } from "node:util";
import { VfioError } from "../errors.js";
import { PCI_COMMAND, PCI_COMMAND_MEMORY } from "../pci/regs.js";
import { closeFd } from "../sys/index.js";
import type { DeviceBackend, DeviceInfo, RegionInfo } from "./backend.js";
import { ConfigSpace } from "./config-space.js";
import { type Container, type ContainerDevice, containerOfDevice } from "./container.js";
import { DeviceIrqs } from "./device-irqs.js";
import { checkDeviceInfo, checkRegionInfo } from "./info-checks.js";
import type { IrqEvent } from "./irq-vector.js";
import { type MappedRegion, mapRegion } from "./mapped-region.js";
import { MmioBlocking } from "./mmio-blocking.js";
import {
  regionName,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from "./vfio-abi.js";

const debug = debuglog("vfio-client");

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

export interface DeviceHandleOptions {
  /** Name used in messages; default "<backend kind> device". */
  name?: string;
}

type Offset = bigint | number;

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
  readonly #regions = new Map<number, Promise<RegionInfo>>();
  /** The region infos already resolved: accesses to them are checked synchronously. */
  readonly #infos = new Map<number, RegionInfo>();
  /**
   * Accesses waiting for their region info. While any wait, new accesses wait too (take
   * the slow path), so every access reaches the backend in call order.
   */
  #waiting = 0;
  readonly #mmio: MmioBlocking;
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

  get container(): Container | undefined {
    return containerOfDevice(this);
  }

  /** VFIO_DEVICE_GET_REGION_INFO, checked and cached (the fd is the device's to close). */
  regionInfo(index: number): Promise<RegionInfo> {
    try {
      this.#checkUsable("regionInfo");
      this.#checkRegionIndex(index);
    } catch (err) {
      return Promise.reject(err);
    }
    let p = this.#regions.get(index);
    if (p === undefined) {
      p = this.backend.getRegionInfo(index).then((info) => {
        try {
          const checked = checkRegionInfo(index, info, this.isPci);
          if (!this.#closed) this.#infos.set(index, checked);
          return checked;
        } catch (err) {
          if (info.fd >= 0) closeQuietly(info.fd);
          throw err;
        }
      });
      this.#regions.set(index, p);
      p.catch(() => this.#regions.delete(index));
    }
    return p;
  }

  async regionSize(index: number): Promise<bigint> {
    return (await this.regionInfo(index)).size;
  }

  /** Reads `length` bytes at `offset` of region `index` (split as the backend needs). */
  read(index: number, offset: Offset, length: number): Promise<Uint8Array> {
    const info = this.#readyInfo(index);
    if (info === undefined) return this.#readSlow(index, offset, length);
    let off: bigint;
    try {
      off = this.#checkInfo(info, index, offset, length, VFIO_REGION_INFO_FLAG_READ, "read");
    } catch (err) {
      return Promise.reject(err);
    }
    if (length === 0) return Promise.resolve(new Uint8Array(0));
    return this.backend.regionRead(index, off, length);
  }

  /** Writes `data` at `offset` of region `index`; config writes update MMIO blocking. */
  write(index: number, offset: Offset, data: Uint8Array): Promise<void> {
    const info = this.#readyInfo(index);
    if (info === undefined) return this.#writeSlow(index, offset, data, false);
    let off: bigint;
    try {
      off = this.#checkInfo(
        info,
        index,
        offset,
        data.byteLength,
        VFIO_REGION_INFO_FLAG_WRITE,
        "write",
      );
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#send(index, off, data, false);
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
    const info = this.#readyInfo(index);
    if (info === undefined) return this.#writeSlow(index, offset, data, true);
    let off: bigint;
    try {
      off = this.#checkInfo(
        info,
        index,
        offset,
        data.byteLength,
        VFIO_REGION_INFO_FLAG_WRITE,
        "write",
      );
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#send(index, off, data, true);
  }

  async #readSlow(index: number, offset: Offset, length: number): Promise<Uint8Array> {
    const off = await this.#checkAccessWaiting(
      index,
      offset,
      length,
      VFIO_REGION_INFO_FLAG_READ,
      "read",
    );
    if (length === 0) return new Uint8Array(0);
    return this.backend.regionRead(index, off, length);
  }

  async #writeSlow(
    index: number,
    offset: Offset,
    data: Uint8Array,
    posted: boolean,
  ): Promise<void> {
    const off = await this.#checkAccessWaiting(
      index,
      offset,
      data.byteLength,
      VFIO_REGION_INFO_FLAG_WRITE,
      "write",
    );
    return this.#send(index, off, data, posted);
  }

  /** A checked write to the backend: posted if asked and allowed, PCI_COMMAND tracked. */
  #send(index: number, off: bigint, data: Uint8Array, posted: boolean): Promise<void> {
    if (data.byteLength === 0) return RESOLVED;
    const cmd = this.#mmio.commandByte(index, off, data);
    if (cmd !== undefined) return this.#writeCommand(index, off, data, cmd);
    if (!posted) return this.backend.regionWrite(index, off, data);
    const blocked = this.#mmio.blockedReason(index);
    if (blocked !== null) {
      return Promise.reject(
        new VfioError(
          "EIO",
          `${this.name}: posted write to ${regionName(index)} blocked, ${blocked}`,
        ),
      );
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

  async read8(index: number, offset: Offset): Promise<number> {
    return (await this.read(index, offset, 1))[0]!;
  }
  async read16(index: number, offset: Offset): Promise<number> {
    return dv(await this.read(index, offset, 2)).getUint16(0, true);
  }
  async read32(index: number, offset: Offset): Promise<number> {
    const b = await this.read(index, offset, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  async read64(index: number, offset: Offset): Promise<bigint> {
    return dv(await this.read(index, offset, 8)).getBigUint64(0, true);
  }
  write8(index: number, offset: Offset, v: number): Promise<void> {
    return this.write(index, offset, Uint8Array.of(v & 0xff));
  }
  write16(index: number, offset: Offset, v: number): Promise<void> {
    const b = new Uint8Array(2);
    dv(b).setUint16(0, v & 0xffff, true);
    return this.write(index, offset, b);
  }
  write32(index: number, offset: Offset, v: number): Promise<void> {
    return this.write(index, offset, le32(v));
  }
  write64(index: number, offset: Offset, v: bigint): Promise<void> {
    const b = new Uint8Array(8);
    dv(b).setBigUint64(0, BigInt.asUintN(64, v), true);
    return this.write(index, offset, b);
  }
  writePosted8(index: number, offset: Offset, v: number): Promise<void> {
    return this.writePosted(index, offset, Uint8Array.of(v & 0xff));
  }
  writePosted16(index: number, offset: Offset, v: number): Promise<void> {
    return this.writePosted(index, offset, Uint8Array.of(v & 0xff, (v >>> 8) & 0xff));
  }
  writePosted32(index: number, offset: Offset, v: number): Promise<void> {
    return this.writePosted(index, offset, le32(v));
  }
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
    this.#checkUsable("reset");
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
    this.#infos.clear();
    this.#mmio.closeAll();
    const infos = await Promise.allSettled(this.#regions.values());
    for (const r of infos)
      if (r.status === "fulfilled" && r.value.fd >= 0) closeQuietly(r.value.fd);
    this.#regions.clear();
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

  /** Region info for the synchronous path: cached, device usable, no access waiting. */
  #readyInfo(index: number): RegionInfo | undefined {
    if (this.#waiting > 0 || this.#closed || this.#disconnected !== null) return undefined;
    return this.#infos.get(index);
  }

  async #checkAccessWaiting(
    index: number,
    offset: Offset,
    length: number,
    flag: number,
    op: string,
  ): Promise<bigint> {
    this.#waiting++;
    try {
      return await this.#checkAccess(index, offset, length, flag, op);
    } finally {
      this.#waiting--;
    }
  }

  async #checkAccess(
    index: number,
    offset: Offset,
    length: number,
    flag: number,
    op: string,
  ): Promise<bigint> {
    checkLength(this.name, length, op);
    const off = BigInt(offset);
    const info = await this.regionInfo(index);
    return this.#checkInfo(info, index, off, length, flag, op);
  }

  /** The checks of an access once its region info is known; the offset as a bigint. */
  #checkInfo(
    info: RegionInfo,
    index: number,
    offset: Offset,
    length: number,
    flag: number,
    op: string,
  ): bigint {
    checkLength(this.name, length, op);
    const off = typeof offset === "bigint" ? offset : BigInt(offset);
    if ((info.flags & flag) === 0) {
      throw new VfioError("EINVAL", `${this.name}: ${regionName(index)} does not allow ${op}s`);
    }
    if (off < 0n || off + BigInt(length) > info.size) {
      throw new VfioError(
        "EINVAL",
        `${this.name}: ${op} of ${length} bytes at 0x${off.toString(16)} is outside ${regionName(index)} ` +
          `(0x${info.size.toString(16)} bytes)`,
      );
    }
    this.#checkUsable(op);
    return off;
  }

  #checkRegionIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.info.numRegions) {
      throw new VfioError(
        "EINVAL",
        `${this.name}: region ${index} does not exist (the device has ${this.info.numRegions})`,
      );
    }
  }

  #checkUsable(op: string): void {
    if (this.#closed) throw new VfioError("EBADF", `${this.name}: ${op} on a closed device`);
    if (this.#disconnected !== null) {
      throw new VfioError(
        "ENOTCONN",
        `${this.name}: ${op}: the device is disconnected (${this.#disconnected.message})`,
        {
          cause: this.#disconnected,
        },
      );
    }
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

function checkLength(name: string, length: number, op: string): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new VfioError("EINVAL", `${name}: ${op} length ${length} is invalid`);
  }
}

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

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch (err) {
    debug("closing fd %d failed: %s", fd, (err as Error).message);
  }
}
