import { VfioError } from "../errors.js";
import type { DeviceConfig, DeviceDma, DeviceIrqs } from "../server/index.js";

/**
 * What a device model needs from the framework: the `irq`, `dma` and `config`
 * accessors of the PciDevice that createDevice() built from its definition. A
 * PciDevice satisfies this interface as is; tests pass stand-ins.
 *
 * Models are created before their PciDevice exists (the definition is createDevice's
 * input), so they start on `unboundHost` and are bound once the device is built.
 */
export interface DeviceHost {
  readonly irq: DeviceIrqs;
  readonly dma: DeviceDma;
  readonly config: DeviceConfig;
}

function notBound(): never {
  throw new VfioError("ENODEV", "device model is not bound to a PciDevice yet");
}

/** A host with nothing behind it: interrupts are dropped and DMA fails with ENODEV. */
export const unboundHost: DeviceHost = {
  irq: {
    mode: "none",
    trigger: () => "dropped",
    intx: { assert: () => "dropped", deassert: () => {}, asserted: false },
    raiseError: () => "dropped",
    requestRelease: () => "dropped",
    isMasked: () => false,
  },
  dma: {
    read: async () => notBound(),
    write: async () => notBound(),
    view: () => notBound(),
    windows: () => [],
    faults: 0,
  },
  config: {
    command: 0,
    status: 0,
    busMaster: false,
    read: () => 0,
    write: () => {},
  },
};
