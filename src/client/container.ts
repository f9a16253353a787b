import { debuglog } from "node:util";
import { VfioError } from "../errors.js";
import { hex } from "../hex.js";
import {
  type DmaWindow,
  IommuDomain,
  type IovaRange,
  type MemlockLimit,
  untilIdle,
} from "../iommu/index.js";
import {
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  MemFd,
  mmap,
  munmap,
  PROT_READ,
  PROT_WRITE,
} from "../sys/index.js";
import type { DeviceBackend, DmaRequestHandler, DmaTarget } from "./backend.js";
import { dmaCopyIn, dmaCopyOut } from "./dma-copy.js";
import {
  type DmaBacking,
  DmaBuffer,
  DmaMapping,
  type DmaPermsSpec,
  type DmaUnmapper,
  toDmaPerms,
} from "./dma-mapping.js";
import { IommuOwner } from "./iommu-owner.js";
import { lowestFreeIova } from "./iova-allocator.js";

const debug = debuglog("vfio-client");

/** What a container needs from a device it serves (DeviceHandle implements it). */
export interface ContainerDevice {
  readonly backend: DeviceBackend;
  readonly name: string;
}

/** Options of a Container: who it charges pinned memory and PASIDs to, and its IOVA allocation. */
export interface ContainerOptions {
  /** Whom pinned pages and PASIDs are charged to; default IommuOwner.default(). */
  owner?: IommuOwner;
  /** Shortcut for a private owner with this memlock limit (exclusive with `owner`). */
  memlockLimit?: MemlockLimit;
  /** IOMMU page sizes (OR'ed); default 4 KiB. Devices must support the smallest. */
  pgsizes?: bigint;
  /** Usable IOVA ranges (inclusive ends); default the whole 64-bit space. */
  iovaRanges?: readonly IovaRange[];
  /** Mapping limit of the container itself; attached devices may lower it. */
  maxMappings?: number;
}

const containerOf = new WeakMap<ContainerDevice, Container>();

/** The container a device is attached to, if any. */
export function containerOfDevice(device: ContainerDevice): Container | undefined {
  return containerOf.get(device);
}

/**
 * An IOMMU domain shared by several devices: the analog of a VFIO container with the
 * type1v2 IOMMU set (VFIO_SET_IOMMU). Every mapping is checked once here (alignment,
 * overlap, IOVA ranges, mapping count, pinned pages against the owner's memlock
 * limit) and then given to every attached device, so all of them see the same IOVA
 * space; devices attached later receive the existing mappings.
 *
 * The container also answers the devices' DMA_READ/DMA_WRITE requests: each access
 * is translated through the domain, so a device touching IOVA it was not given, or
 * writing a read-only window, gets EFAULT (the IOMMU fault).
 */
export class Container implements DmaRequestHandler, DmaUnmapper {
  readonly owner: IommuOwner;
  readonly domain: IommuDomain<DmaBacking>;
  readonly #devices: ContainerDevice[] = [];
  readonly #mappings = new Map<DmaWindow<DmaBacking>, DmaMapping>();
  #closed = false;
  /** Serializes map/unmap/attach so devices see mappings in one order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ContainerOptions = {}) {
    if (options.owner !== undefined && options.memlockLimit !== undefined) {
      throw new VfioError("EINVAL", "Container: pass either owner or memlockLimit, not both");
    }
    this.owner =
      options.owner ??
      (options.memlockLimit !== undefined
        ? new IommuOwner({ memlockLimit: options.memlockLimit })
        : IommuOwner.default());
    this.domain = new IommuDomain<DmaBacking>({
      account: this.owner.account,
      pgsizes: options.pgsizes,
      iovaRanges: options.iovaRanges,
      maxMappings: options.maxMappings,
    });
    this.owner.retain();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get pageSize(): bigint {
    return this.domain.pageSize;
  }

  get devices(): readonly ContainerDevice[] {
    return this.#devices;
  }

  /** Bytes currently pinned by this container's mappings. */
  get pinnedBytes(): bigint {
    return this.domain.pinnedBytes;
  }

  /**
   * Attaches a device: checks it can follow this container's rules (page size,
   * mapping count), replays every existing mapping to it and routes its DMA requests
   * here. A device belongs to at most one container.
   */
  attach(device: ContainerDevice): Promise<void> {
    return this.#serialize(async () => {
      this.#checkOpen("attach");
      const other = containerOf.get(device);
      if (other === this) return;
      if (other !== undefined) {
        throw new VfioError("EBUSY", `${device.name} is already attached to another container`);
      }
      const { pgsizes, maxDmaMaps } = device.backend.limits;
      const devPage = pgsizes & -pgsizes;
      if (devPage === 0n || this.pageSize % devPage !== 0n) {
        throw new VfioError(
          "EINVAL",
          `${device.name} supports IOMMU page sizes ${hex(pgsizes)}, which cannot map this ` +
            `container's ${hex(this.pageSize)}-byte pages`,
        );
      }
      if (this.domain.count > maxDmaMaps) {
        throw new VfioError(
          "ENOSPC",
          `${device.name} accepts ${maxDmaMaps} DMA mappings (max_dma_maps) but the container has ${this.domain.count}`,
        );
      }
      const ranges = device.backend.limits.iovaRanges;
      if (ranges !== undefined) this.domain.restrictIovaRanges(ranges);
      // Devices sharing a DMA target (kernel devices of one VFIO container) already
      // have every mapping through the first of them.
      const target = targetOf(device);
      if (!this.#devices.some((d) => targetOf(d) === target)) {
        const replayed: DmaWindow<DmaBacking>[] = [];
        try {
          for (const w of this.domain.windows()) {
            await target.dmaMap(this.#request(w));
            replayed.push(w);
          }
        } catch (err) {
          await failuresOf(replayed.map((w) => target.dmaUnmap(w.iova, w.size)));
          throw err;
        }
      }
      this.#devices.push(device);
      containerOf.set(device, this);
      device.backend.setDmaHandler(this);
    });
  }

  /** Removes every mapping from the device and stops serving its DMA. */
  detach(device: ContainerDevice): Promise<void> {
    return this.#serialize(async () => {
      const i = this.#devices.indexOf(device);
      if (i < 0) return;
      this.#devices.splice(i, 1);
      containerOf.delete(device);
      device.backend.setDmaHandler(null);
      const target = targetOf(device);
      if (this.#devices.some((d) => targetOf(d) === target)) return;
      const failures = await failuresOf(
        Array.from(this.domain.windows(), (w) => target.dmaUnmap(w.iova, w.size)),
      );
      for (const f of failures) debug("detach %s: unmap failed: %s", device.name, String(f.reason));
    });
  }

  /**
   * Allocates `size` bytes (rounded up to the page size) of shared memory and maps it
   * at `iova` (default: the lowest free IOVA) for every device; the devices get its
   * fd and reach it directly.
   */
  allocateBuffer(
    size: number | bigint,
    options: { iova?: bigint; perms?: DmaPermsSpec; name?: string } = {},
  ): Promise<DmaBuffer> {
    return this.#serialize(async () => {
      this.#checkOpen("allocateBuffer");
      const want = BigInt(size);
      if (want <= 0n)
        throw new VfioError("EINVAL", `allocateBuffer: size must be positive, got ${size}`);
      const bytes = ((want + this.pageSize - 1n) / this.pageSize) * this.pageSize;
      if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new VfioError("EINVAL", `allocateBuffer: ${bytes} bytes cannot be one ArrayBuffer`);
      }
      const perms = toDmaPerms(options.perms ?? "rw");
      const iova = options.iova ?? lowestFreeIova(this.domain, bytes);
      this.#checkDeviceRules(iova, bytes);
      // The domain checks (and charges the memlock account) before anything is allocated.
      const backing: { -readonly [K in keyof DmaBacking]: DmaBacking[K] } = { ...NO_BACKING };
      const window = this.domain.map(iova, bytes, perms, backing);
      let memfd: MemFd | undefined;
      try {
        memfd = MemFd.create(options.name ?? `vfio-dma@${hex(iova)}`, bytes, {
          allowSealing: true,
        });
        // Devices get this fd; sealed, no server can truncate it under our mapping (SIGBUS).
        memfd.seal(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        const ab = mmap(memfd.fd, 0n, Number(bytes), PROT_READ | PROT_WRITE);
        const fd = memfd;
        backing.bytes = new Uint8Array(ab);
        backing.fd = fd.fd;
        backing.release = () => {
          munmap(ab);
          fd.close();
        };
      } catch (err) {
        memfd?.close();
        this.domain.unmapExact(iova, bytes);
        throw err;
      }
      const buffer = new DmaBuffer(
        this,
        iova,
        perms,
        backing.bytes.buffer as ArrayBuffer,
        backing.fd,
      );
      await this.#fanOut(window, buffer);
      return buffer;
    });
  }

  /**
   * Maps driver memory without an fd at `iova`: devices reach it only through
   * DMA_READ/DMA_WRITE, which this container serves from `memory` after checking the
   * window's permissions. `memory` must be a whole number of pages.
   */
  mapMemory(iova: bigint, memory: Uint8Array, perms: DmaPermsSpec = "rw"): Promise<DmaMapping> {
    return this.#serialize(async () => {
      this.#checkOpen("mapMemory");
      const size = BigInt(memory.byteLength);
      const p = toDmaPerms(perms);
      this.#checkDeviceRules(iova, size);
      const backing: DmaBacking = { bytes: memory, fd: -1, fdOffset: 0n, release: () => {} };
      const window = this.domain.map(iova, size, p, backing);
      const mapping = new DmaMapping(this, iova, size, p);
      await this.#fanOut(window, mapping);
      return mapping;
    });
  }

  /**
   * Unmaps every mapping inside [iova, iova+size) from all devices (type1v2: a range
   * may cover several whole mappings, never split one). Returns the bytes unmapped.
   */
  unmap(iova: bigint, size: bigint): Promise<bigint> {
    return this.#serialize(async () => {
      const result = this.domain.unmap(iova, size);
      await this.#release(result.windows);
      return result.size;
    });
  }

  /** Unmaps everything (VFIO_DMA_UNMAP_FLAG_ALL). */
  unmapAll(): Promise<bigint> {
    return this.#serialize(async () => {
      const result = this.domain.unmapAll();
      await this.#release(result.windows);
      return result.size;
    });
  }

  /** PASID allocation charged to this container's owner (shared quota). */
  allocPasid(min: number, max: number): number {
    this.#checkOpen("allocPasid");
    return this.owner.allocPasid(min, max);
  }

  /** Frees the owner's PASIDs in [min, max] and returns them; [0, 0xFFFFFFFF] frees all of them. */
  freePasids(min: number, max: number): number[] {
    return this.owner.freePasids(min, max);
  }

  /** Unmaps everything, detaches every device and drops the owner reference. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.unmapAll();
    for (const d of [...this.#devices]) await this.detach(d);
    await this.#serialize(async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.owner.releaseContainer();
    });
  }

  // DmaRequestHandler: the device reads or writes driver memory.

  /** Serves a device's DMA_READ of driver memory without an fd (the DmaRequestHandler side). */
  dmaRead(iova: bigint, length: number): Uint8Array {
    return dmaCopyOut(this.domain, iova, length);
  }

  /** Serves a device's DMA_WRITE into driver memory without an fd (the DmaRequestHandler side). */
  dmaWrite(iova: bigint, data: Uint8Array): void {
    dmaCopyIn(this.domain, iova, data);
  }

  /** Gives a new window to every device; on any failure the mapping exists nowhere. */
  async #fanOut(window: DmaWindow<DmaBacking>, mapping: DmaMapping): Promise<void> {
    const { iova, size, value: backing } = window;
    this.#mappings.set(window, mapping);
    const req = this.#request(window);
    const targets = this.#targets();
    const failures = await failuresOf(targets.map(([t]) => t.dmaMap(req)));
    if (failures.length === 0) return;
    // Roll back: the mapping exists everywhere or nowhere.
    const failed = new Set(failures.map((f) => f.index));
    await failuresOf(targets.filter((_, i) => !failed.has(i)).map(([t]) => t.dmaUnmap(iova, size)));
    this.domain.unmapExact(iova, size);
    this.#mappings.delete(window);
    mapping.markUnmapped();
    backing.release();
    const { index, reason } = failures[0]!;
    const [, dev] = targets[index]!;
    throw new VfioError(
      reason instanceof VfioError ? reason.errno : "EIO",
      `DMA map of ${hex(size)} bytes at iova ${hex(iova)} failed on ${dev.name}: ${(reason as Error)?.message ?? reason}`,
      { cause: reason },
    );
  }

  /** Tells every device, waits for in-flight accesses, then frees the memory. */
  async #release(windows: readonly DmaWindow<DmaBacking>[]): Promise<void> {
    if (windows.length === 0) return;
    const calls: Promise<void>[] = [];
    const targets = this.#targets();
    for (const w of windows) {
      for (const [t] of targets) calls.push(t.dmaUnmap(w.iova, w.size));
    }
    const failures = await failuresOf(calls);
    await untilIdle(windows);
    for (const w of windows) {
      this.#mappings.get(w)?.markUnmapped();
      this.#mappings.delete(w);
      w.value.release();
    }
    const errors = failures.map((f) => f.reason);
    for (const e of errors) debug("DMA unmap on a device failed: %s", String(e));
    // A device that has gone away dropped its mappings with its connection; anything
    // else means the device may still reach memory we just freed, so say so.
    const live = errors.filter((e) => !(e instanceof VfioError && DISCONNECTED.has(e.code)));
    if (live.length > 0) {
      throw new AggregateError(live, `DMA unmap failed on ${live.length} device request(s)`);
    }
  }

  #request(w: DmaWindow<DmaBacking>) {
    return {
      iova: w.iova,
      size: w.size,
      read: w.perms.read,
      write: w.perms.write,
      fd: w.value.fd,
      fdOffset: w.value.fdOffset,
      memory: w.value.bytes,
    };
  }

  /** Each distinct DMA target once, with the first device that uses it (for messages). */
  #targets(): [DmaTarget, ContainerDevice][] {
    const seen = new Map<DmaTarget, ContainerDevice>();
    for (const d of this.#devices) {
      const t = targetOf(d);
      if (!seen.has(t)) seen.set(t, d);
    }
    return [...seen];
  }

  /** The attached devices' own limits, checked before the domain's. */
  #checkDeviceRules(iova: bigint, size: bigint): void {
    for (const d of this.#devices) {
      const max = d.backend.limits.maxDmaMaps;
      if (this.domain.count >= max) {
        throw new VfioError(
          "ENOSPC",
          `DMA map at iova ${hex(iova)} (${hex(size)} bytes): ${d.name} accepts at most ${max} mappings (max_dma_maps)`,
        );
      }
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new VfioError("EBADF", `Container.${what}: the container is closed`);
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

const NO_BACKING: DmaBacking = {
  bytes: new Uint8Array(0),
  fd: -1,
  fdOffset: 0n,
  release: () => {},
};

function targetOf(device: ContainerDevice): DmaTarget {
  return device.backend.dmaTarget ?? device.backend;
}

/** Errors that mean the device side is gone (its mappings died with it). */
const DISCONNECTED = new Set(["ECONNRESET", "EPIPE", "ENOTCONN", "EBADF", "ECANCELED"]);

/**
 * Waits for every call and returns the failures in index order: the one way this
 * file waits for device calls. Promise.allSettled would do, but it builds a result
 * object per call, and this runs on every DMA map and unmap. Every call gets its
 * rejection handler at once, so none goes unhandled while an earlier one is awaited.
 */
async function failuresOf(
  calls: readonly Promise<unknown>[],
): Promise<{ index: number; reason: unknown }[]> {
  const failures: { index: number; reason: unknown }[] = [];
  const settled = calls.map((c, index) =>
    c.then(undefined, (reason: unknown) => {
      failures.push({ index, reason });
    }),
  );
  for (const s of settled) await s;
  return failures.sort((a, b) => a.index - b.index);
}
