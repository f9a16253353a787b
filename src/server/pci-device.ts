import { VfioError } from "../errors.js";
import { getLE, PCI_STATUS, toLE } from "../pci/index.js";
import type { DeviceConfig, DeviceDefinition, DeviceDma, DeviceIrqs } from "./device.js";
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

/** A BAR or device-specific region as the device sees it. */
export interface RegionHandle {
  readonly size: number;
  /** The shared memory behind an mmap-backed region (what the client maps). */
  readonly memory: Uint8Array | undefined;
}

/**
 * A device built from a DeviceDefinition, ready to be served by VfioUserServer. Its
 * `irq`, `dma` and `config` accessors are what handlers use to act like hardware.
 */
export class PciDevice {
  readonly name: string;
  readonly irq: DeviceIrqs;
  readonly dma: DeviceDma;
  readonly config: DeviceConfig;

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
    this.name = core.name;
    this.irq = irqFacade(core);
    this.dma = core.dma;
    this.config = configFacade(core);
  }

  /** BAR `index` (0..5). Throws EINVAL for an unimplemented BAR. */
  bar(index: number): RegionHandle {
    const r = deviceCore(this).region(index);
    if (index > 5 || !r || r.size === 0)
      throw new VfioError("EINVAL", `BAR${index} is not implemented`);
    return { size: r.size, memory: deviceCore(this).barMemory(index)?.bytes };
  }

  /** Device-specific region `index` (>= 9). */
  region(index: number): RegionHandle {
    const r = deviceCore(this).region(index);
    if (index < 9 || !r)
      throw new VfioError("EINVAL", `region ${index} is not a device-specific region`);
    return { size: r.size, memory: deviceCore(this).regionMemory(index)?.bytes };
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

function irqFacade(core: DeviceCore): DeviceIrqs {
  const irqs = core.irqs;
  return {
    get mode() {
      return irqs.mode;
    },
    trigger: (vector = 0) => irqs.trigger(vector),
    intx: {
      assert: () => irqs.intx.setLevel(true),
      deassert: () => {
        irqs.intx.setLevel(false);
      },
      get asserted() {
        return irqs.intx.asserted;
      },
    },
    raiseError: () => irqs.raiseErr(),
    requestRelease: () => irqs.raiseReq(),
    isMasked: (vector) => irqs.isMsixMasked(vector),
  };
}

function configFacade(core: DeviceCore): DeviceConfig {
  const cfg = core.config;
  return {
    get command() {
      return cfg.command;
    },
    get status() {
      return cfg.readU16(PCI_STATUS);
    },
    get busMaster() {
      return cfg.busMasterEnabled;
    },
    read: (offset, size) => getLE(cfg.read(offset, size), 0, size),
    write: (offset, size, value) => cfg.deviceWrite(offset, toLE(value, size)),
  };
}
