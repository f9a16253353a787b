/**
 * An in-memory DeviceBackend for unit tests of DeviceHandle and Container: a PCI
 * device with a capability list (standard and extended), a mappable memfd BAR0 with
 * two sparse areas, a trapped BAR2, and INTx/MSI/MSI-X. It enforces memory decoding
 * like a server would (BAR access with PCI_COMMAND_MEMORY clear fails with EIO) and
 * records every call so tests can assert what the driver side sent.
 */
import type {
  BackendLimits,
  DeviceBackend,
  DeviceInfo,
  DmaMapRequest,
  DmaRequestHandler,
  IrqInfo,
  IrqSet,
  RegionInfo,
} from "../../src/client/backend.js";
import { VfioError } from "../../src/errors.js";
import { dupFd, EventFd, MemFd, mmap, munmap } from "../../src/sys/index.js";

export const BAR0_SIZE = 16384;
export const BAR2_SIZE = 65536;

export interface FakeOptions {
  limits?: Partial<BackendLimits>;
  /** Overrides of what getInfo/getRegionInfo/getIrqInfo return (bogus devices). */
  info?: Partial<DeviceInfo>;
  regionInfo?: (info: RegionInfo) => RegionInfo;
  irqInfo?: (info: IrqInfo) => IrqInfo;
  name?: string;
}

export class FakeBackend implements DeviceBackend {
  readonly kind = "fake";
  readonly limits: BackendLimits;
  readonly config = new Uint8Array(4096);
  readonly bar0: MemFd;
  readonly bar0View: Uint8Array;
  readonly bar2 = new Uint8Array(BAR2_SIZE);
  readonly calls: string[] = [];
  readonly irqSets: IrqSet[] = [];
  readonly maps: DmaMapRequest[] = [];
  readonly unmaps: { iova: bigint; size: bigint }[] = [];
  /** Dups of the eventfds the driver gave, by "index:vector", so tests can fire them. */
  readonly eventfds = new Map<string, EventFd>();
  dma: DmaRequestHandler | null = null;
  failNextMap: VfioError | null = null;
  readonly #opts: FakeOptions;
  #disconnect: ((err: Error) => void) | null = null;
  closed = false;
  resets = 0;

  constructor(opts: FakeOptions = {}) {
    this.#opts = opts;
    this.limits = {
      maxDataXferSize: 1 << 20,
      maxMsgFds: 8,
      maxDmaMaps: 65535,
      pgsizes: 4096n,
      ...opts.limits,
    };
    this.bar0 = MemFd.create("fake-bar0", BAR0_SIZE);
    this.bar0View = new Uint8Array(mmap(this.bar0.fd, 0, BAR0_SIZE));
    this.#resetConfig();
  }

  #resetConfig(): void {
    const c = this.config;
    c.fill(0);
    const dv = new DataView(c.buffer);
    dv.setUint16(0, 0x1af4, true); // vendor
    dv.setUint16(2, 0x10f0, true); // device
    dv.setUint16(4, 0x0002, true); // COMMAND: memory enabled, as vfio-pci hands devices over
    dv.setUint16(6, 0x0010, true); // STATUS: capability list
    c[0x34] = 0x40;
    // MSI-X at 0x40 -> PM at 0x50 -> end
    c[0x40] = 0x11;
    c[0x41] = 0x50;
    dv.setUint16(0x42, 7, true); // 8 vectors
    c[0x50] = 0x01;
    c[0x51] = 0x00;
    // Extended: DSN at 0x100 -> vendor-specific at 0x140 -> end
    dv.setUint32(0x100, 0x0003 | (1 << 16) | (0x140 << 20), true);
    dv.setUint32(0x140, 0x000b | (1 << 16), true);
    dv.setUint32(0x144, 0x010 << 20, true); // vendor header: length 16
  }

  get memoryEnabled(): boolean {
    return (this.config[4]! & 2) !== 0;
  }

  async getInfo(): Promise<DeviceInfo> {
    this.calls.push("getInfo");
    return { flags: 3, numRegions: 9, numIrqs: 5, ...this.#opts.info };
  }

  async getRegionInfo(index: number): Promise<RegionInfo> {
    this.calls.push(`getRegionInfo:${index}`);
    let info: RegionInfo;
    if (index === 0) {
      info = {
        index,
        flags: 7,
        size: BigInt(BAR0_SIZE),
        offset: 0n,
        mmapAreas: [
          { offset: 0n, size: 4096n },
          { offset: 8192n, size: 8192n },
        ],
        caps: [],
        fd: dupFd(this.bar0.fd),
      };
    } else if (index === 2) {
      info = {
        index,
        flags: 3,
        size: BigInt(BAR2_SIZE),
        offset: 0n,
        mmapAreas: [],
        caps: [],
        fd: -1,
      };
    } else if (index === 7) {
      info = { index, flags: 3, size: 4096n, offset: 0n, mmapAreas: [], caps: [], fd: -1 };
    } else {
      info = { index, flags: 0, size: 0n, offset: 0n, mmapAreas: [], caps: [], fd: -1 };
    }
    return this.#opts.regionInfo ? this.#opts.regionInfo(info) : info;
  }

  #bar(index: number): Uint8Array {
    if (index === 7) return this.config;
    if (!this.memoryEnabled) throw new VfioError("EIO", "memory decoding is off");
    if (index === 0) return this.bar0View;
    if (index === 2) return this.bar2;
    throw new VfioError("EINVAL", `no region ${index}`);
  }

  async regionRead(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    this.calls.push(`read:${index}:${offset}:${length}`);
    return this.#bar(index).slice(Number(offset), Number(offset) + length);
  }

  async regionWrite(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    this.calls.push(`write:${index}:${offset}:${data.byteLength}`);
    this.#bar(index).set(data, Number(offset));
  }

  async getIrqInfo(index: number): Promise<IrqInfo> {
    const counts = [1, 1, 8, 1, 1];
    const flags = index === 0 ? 0x7 : 0x9;
    const info = { index, flags, count: counts[index] ?? 0 };
    return this.#opts.irqInfo ? this.#opts.irqInfo(info) : info;
  }

  async setIrqs(set: IrqSet): Promise<void> {
    this.calls.push(`setIrqs:${set.index}:${set.flags}:${set.start}:${set.count}`);
    this.irqSets.push({ ...set, fds: set.fds ? [...set.fds] : undefined });
    if (set.fds !== undefined && set.fds.length > this.limits.maxMsgFds) {
      throw new VfioError("EINVAL", "too many fds");
    }
    if (set.count === 0) {
      for (const [k, e] of this.eventfds) {
        if (k.startsWith(`${set.index}:`)) {
          e.close();
          this.eventfds.delete(k);
        }
      }
    }
    set.fds?.forEach((fd, i) => {
      const key = `${set.index}:${set.start + i}`;
      this.eventfds.get(key)?.close();
      this.eventfds.set(key, new EventFd(dupFd(fd)));
    });
  }

  /** The device raises vector `vector` of `index`. */
  fire(index: number, vector: number, times = 1): void {
    const e = this.eventfds.get(`${index}:${vector}`);
    if (e === undefined) throw new Error(`no eventfd for ${index}:${vector}`);
    e.signal(times);
  }

  async reset(): Promise<void> {
    this.calls.push("reset");
    this.resets++;
    this.#resetConfig();
    this.config[4] = 0; // our fake resets COMMAND to 0: memory stays off until re-enabled
    for (const e of this.eventfds.values()) e.close();
    this.eventfds.clear();
  }

  async dmaMap(req: DmaMapRequest): Promise<void> {
    this.calls.push(`dmaMap:${req.iova}:${req.size}`);
    if (this.failNextMap) {
      const e = this.failNextMap;
      this.failNextMap = null;
      throw e;
    }
    this.maps.push(req);
  }

  async dmaUnmap(iova: bigint, size: bigint): Promise<void> {
    this.calls.push(`dmaUnmap:${iova}:${size}`);
    if (this.closed) throw new VfioError("ENOTCONN", "gone");
    this.unmaps.push({ iova, size });
  }

  setDmaHandler(handler: DmaRequestHandler | null): void {
    this.dma = handler;
  }

  onDisconnect(cb: ((err: Error) => void) | null): void {
    this.#disconnect = cb;
  }

  /** Simulates the device side dying. */
  disconnect(): void {
    this.closed = true;
    this.#disconnect?.(new VfioError("ECONNRESET", "fake device went away"));
  }

  async close(): Promise<void> {
    this.calls.push("close");
    this.closed = true;
  }

  dispose(): void {
    for (const e of this.eventfds.values()) e.close();
    this.eventfds.clear();
    munmap(this.bar0View.buffer as ArrayBuffer);
    this.bar0.close();
  }
}
