import { VfioError } from "../errors.js";
import type {
  DeviceConfig,
  DeviceContext,
  DeviceDefinition,
  DeviceDma,
  DeviceIrqs,
  DeviceLog,
  RegionHandle,
} from "./device.js";
import { DeviceCore } from "./device-core.js";
import { eventFdWrapper } from "./irqs/eventfd-wrapper.js";

const cores = new WeakMap<PciDevice, DeviceCore>();

/**
 * A device built from a DeviceDefinition, ready to be served by VfioUserServer. It is
 * also the device's context for code outside the callbacks (a model's host side, a
 * test): `irq`, `dma`, `config` and `log` are the very facades the callbacks receive.
 */
export class PciDevice implements DeviceContext {
  readonly name: string;
  readonly irq: DeviceIrqs;
  readonly dma: DeviceDma;
  readonly config: DeviceConfig;
  readonly log: DeviceLog;
  readonly #context: DeviceContext;

  /** Use createDevice(). */
  constructor(def: DeviceDefinition) {
    const core: DeviceCore = new DeviceCore(
      def,
      eventFdWrapper((err) =>
        core.log.warn(`eventfd signal failed: ${(err as Error)?.message ?? err}`),
      ),
    );
    cores.set(this, core);
    this.#context = core.context;
    this.name = core.name;
    this.irq = core.context.irq;
    this.dma = core.context.dma;
    this.config = core.context.config;
    this.log = core.context.log;
  }

  /** BAR `index` (0..5). Throws EINVAL for an unimplemented BAR. */
  bar(index: number): RegionHandle {
    return this.#context.bar(index);
  }

  /** Device-specific region `index` (>= 9). */
  region(index: number): RegionHandle {
    return this.#context.region(index);
  }

  /** True while a client is connected (DMA windows exist only then). */
  get connected(): boolean {
    return deviceCore(this).dma.attached;
  }

  /** Releases the shared memory. Only once no server serves the device any more. */
  close(): void {
    deviceCore(this).close();
  }
}

/** Builds a device. Throws VfioError EINVAL/ENOSPC when the definition is invalid. */
export function createDevice(def: DeviceDefinition): PciDevice {
  return new PciDevice(def);
}

/** The framework side of a device (not part of the public API). */
export function deviceCore(device: PciDevice): DeviceCore {
  const core = cores.get(device);
  if (!core) throw new VfioError("EINVAL", "not a device made by createDevice()");
  return core;
}
