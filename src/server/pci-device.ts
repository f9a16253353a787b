import { VfioError } from "../errors.js";
import type {
  DeviceConfig,
  DeviceContext,
  DeviceDefinition,
  DeviceDma,
  DeviceIrqs,
  DeviceLog,
  DeviceTasks,
  RegionHandle,
} from "./device.js";
import { DeviceCore } from "./device-core.js";
import { eventFdWrapper } from "./irqs/eventfd-wrapper.js";

const cores = new WeakMap<PciDevice, DeviceCore>();

/**
 * Registry-wide brand of a device. A device module may be built against another copy of
 * vfio-ts than the one serving it (a global CLI and a project's own dependency), where
 * `instanceof PciDevice` is false; the brand, from `Symbol.for`, is the same in every copy.
 * Its value gives the device's core; the number is the layout of that core, bumped when a
 * copy could no longer serve another's.
 */
export const DEVICE_BRAND: unique symbol = Symbol.for("vfio-ts.PciDevice.v1") as never;

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
  readonly tasks: DeviceTasks;
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
    Object.defineProperty(this, DEVICE_BRAND, { value: () => core });
    this.#context = core.context;
    this.name = core.name;
    this.irq = core.context.irq;
    this.dma = core.context.dma;
    this.config = core.context.config;
    this.log = core.context.log;
    this.tasks = core.context.tasks;
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

/** True for a device made by createDevice() of this or any other copy of vfio-ts. */
export function isPciDevice(v: unknown): v is PciDevice {
  return (
    v instanceof PciDevice ||
    (typeof v === "object" &&
      v !== null &&
      typeof (v as { [DEVICE_BRAND]?: unknown })[DEVICE_BRAND] === "function")
  );
}

/** The framework side of a device (not part of the public API). */
export function deviceCore(device: PciDevice): DeviceCore {
  const branded = (device as { [DEVICE_BRAND]?: () => DeviceCore })[DEVICE_BRAND];
  const core = cores.get(device) ?? (typeof branded === "function" ? branded() : undefined);
  if (!core) throw new VfioError("EINVAL", "not a device made by createDevice()");
  return core;
}
