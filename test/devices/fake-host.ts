/**
 * A stand-in device context (irq, dma, config, log) for a model's callbacks, so
 * register handlers can be driven directly and every effect observed. What the
 * framework enforces (bus mastering, the IOMMU of a real client) is tested against
 * real devices in test/server.
 */

import { VfioError } from "../../src/errors.js";
import type {
  DeviceConfig,
  DeviceContext,
  DeviceDma,
  DeviceIrqs,
  DeviceLog,
  DmaSegment,
  DmaWindowInfo,
  RegionHandle,
} from "../../src/server/device.js";
import { TaskSet } from "../../src/server/device-tasks.js";
import type { IrqDelivery } from "../../src/server/irqs/notifier.js";

export class FakeIrqs implements DeviceIrqs {
  mode: DeviceIrqs["mode"] = "intx";
  /** Vectors passed to trigger(), in order. */
  readonly triggers: number[] = [];
  /** Every level change of INTx, in order. */
  readonly levels: boolean[] = [];
  #level = false;

  trigger(vector = 0): IrqDelivery {
    this.triggers.push(vector);
    return "delivered";
  }

  readonly intx = {
    assert: (): IrqDelivery => {
      if (!this.#level) this.levels.push(true);
      this.#level = true;
      return "delivered";
    },
    deassert: (): void => {
      if (this.#level) this.levels.push(false);
      this.#level = false;
    },
    asserted: false,
  };

  constructor() {
    Object.defineProperty(this.intx, "asserted", { get: () => this.#level });
  }

  get level(): boolean {
    return this.#level;
  }

  raiseError(): IrqDelivery {
    return "dropped";
  }
  requestRelease(): IrqDelivery {
    return "dropped";
  }
  isMasked(): boolean {
    return false;
  }
}

/** One window of client memory at `base`, readable and writable. */
export class FakeDma implements DeviceDma {
  readonly memory: Uint8Array;
  readonly base: bigint;
  faults = 0;
  readonly log: { op: "read" | "write"; iova: bigint; length: number }[] = [];

  constructor(base: bigint, size: number) {
    this.base = base;
    this.memory = new Uint8Array(size);
  }

  #offset(iova: bigint | number, length: number): number {
    const at = BigInt(iova);
    if (at < this.base || at + BigInt(length) > this.base + BigInt(this.memory.length)) {
      this.faults++;
      throw new VfioError("EFAULT", `IOMMU fault at 0x${at.toString(16)}+${length}`);
    }
    return Number(at - this.base);
  }

  async read(iova: bigint | number, length: number): Promise<Uint8Array> {
    this.log.push({ op: "read", iova: BigInt(iova), length });
    const o = this.#offset(iova, length);
    return this.memory.slice(o, o + length);
  }

  async write(iova: bigint | number, data: Uint8Array): Promise<void> {
    this.log.push({ op: "write", iova: BigInt(iova), length: data.length });
    this.memory.set(data, this.#offset(iova, data.length));
  }

  async readSegments(segments: readonly DmaSegment[]): Promise<Uint8Array> {
    for (const s of segments) this.#offset(s.iova, s.length);
    const parts = await Promise.all(segments.map((s) => this.read(s.iova, s.length)));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  async writeSegments(segments: readonly DmaSegment[], data: Uint8Array): Promise<void> {
    for (const s of segments) this.#offset(s.iova, s.length);
    let at = 0;
    for (const s of segments) {
      await this.write(s.iova, data.subarray(at, at + s.length));
      at += s.length;
    }
  }

  view(iova: bigint | number, length: number): Uint8Array {
    const o = this.#offset(iova, length);
    return this.memory.subarray(o, o + length);
  }

  windows(): DmaWindowInfo[] {
    return [
      {
        iova: this.base,
        size: BigInt(this.memory.length),
        readable: true,
        writable: true,
        mapped: false,
      },
    ];
  }
}

export class FakeConfig implements DeviceConfig {
  command = 0x6; // memory + bus master
  status = 0;
  get busMaster(): boolean {
    return (this.command & 0x4) !== 0;
  }
  read(): number {
    return 0;
  }
  write(): void {}
}

export interface FakeHost extends DeviceContext {
  readonly irq: FakeIrqs;
  readonly dma: FakeDma;
  readonly config: FakeConfig;
}

const quiet: DeviceLog = { warn: () => {}, debug: () => {} };

function noRegion(index: number): RegionHandle {
  throw new VfioError("EINVAL", `the fake host has no region ${index}`);
}

export function fakeHost(dmaBase = 0x10000n, dmaSize = 0x4000): FakeHost {
  return {
    name: "fake",
    irq: new FakeIrqs(),
    dma: new FakeDma(dmaBase, dmaSize),
    config: new FakeConfig(),
    log: quiet,
    tasks: new TaskSet(() => {}),
    bar: noRegion,
    region: noRegion,
  };
}

/** `value` as `size` little-endian bytes. */
export { leBytes as le } from "../../src/le.js";
