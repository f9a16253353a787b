import { VfioError } from "../errors.js";
import { getLE, PCI_STATUS, toLE } from "../pci/index.js";
import type {
  DeviceConfig,
  DeviceContext,
  DeviceDma,
  DeviceIrqs,
  DeviceLog,
  RegionHandle,
} from "./device.js";
import type { DeviceCore } from "./device-core.js";

/**
 * Key of the context's "may the device's handlers run" probe: false while the device
 * is stopped for migration. A symbol, so the region code finds it on the context it
 * already passes around, without a lookup per access, and device code has no name for it.
 */
export const HANDLERS_MAY_RUN = Symbol("vfio-ts handlers may run");

/**
 * Builds the context every device callback receives. It is made once per device,
 * before any callback can run, from facades over the core: so no model needs a
 * second "bind" step to learn which device it is.
 */
export function makeDeviceContext(core: DeviceCore, dma: DeviceDma): DeviceContext {
  const log: DeviceLog = {
    warn: (m) => core.log.warn(m),
    debug: (m) => core.log.debug(m),
  };
  return Object.freeze({
    name: core.name,
    irq: irqFacade(core),
    dma,
    config: configFacade(core),
    log,
    tasks: core.tasks,
    bar: (index: number) => barHandle(core, index),
    region: (index: number) => regionHandle(core, index),
    [HANDLERS_MAY_RUN]: () => core.migration.running,
  });
}

function barHandle(core: DeviceCore, index: number): RegionHandle {
  const r = core.region(index);
  if (index > 5 || !r || r.size === 0)
    throw new VfioError("EINVAL", `BAR${index} is not implemented`);
  return { size: r.size, memory: core.barMemory(index)?.bytes };
}

function regionHandle(core: DeviceCore, index: number): RegionHandle {
  const r = core.region(index);
  if (index < 9 || !r)
    throw new VfioError("EINVAL", `region ${index} is not a device-specific region`);
  return { size: r.size, memory: core.regionMemory(index)?.bytes };
}

function irqFacade(core: DeviceCore): DeviceIrqs {
  const irqs = core.irqs;
  return Object.freeze({
    get mode() {
      return irqs.mode;
    },
    // A stopped device's interrupts are held (reported "pending") until it runs again.
    trigger: (vector = 0) => {
      if (core.migration.running) return irqs.trigger(vector);
      core.migration.deferVector(vector);
      return "pending";
    },
    intx: Object.freeze({
      assert: () => {
        if (core.migration.running) return irqs.intx.setLevel(true);
        core.migration.deferIntx(true);
        return "pending";
      },
      deassert: () => {
        if (!core.migration.running) core.migration.deferIntx(false);
        irqs.intx.setLevel(false);
      },
      get asserted() {
        return irqs.intx.asserted;
      },
    }),
    raiseError: () => irqs.raiseErr(),
    requestRelease: () => irqs.raiseReq(),
    isMasked: (vector: number) => irqs.isMsixMasked(vector),
  });
}

function configFacade(core: DeviceCore): DeviceConfig {
  const cfg = core.config;
  return Object.freeze({
    get command() {
      return cfg.command;
    },
    get status() {
      return cfg.readU16(PCI_STATUS);
    },
    get busMaster() {
      return cfg.busMasterEnabled;
    },
    read: (offset: number, size: 1 | 2 | 4) => getLE(cfg.read(offset, size), 0, size),
    write: (offset: number, size: 1 | 2 | 4, value: number) =>
      cfg.deviceWrite(offset, toLE(value, size)),
  });
}
