/**
 * Built-in sample devices, by name, for `vfio-ts serve <device>` and for tests.
 *
 *   const { device, control } = instantiateBuiltinDevice("gpio");
 *   server = new VfioUserServer(device);
 *   control.setInput(3, true);
 *
 * Each model's callbacks take the device from their context argument, so the device
 * is ready as soon as it is built: there is no binding step.
 *
 * @module
 */
import { VfioError } from "../errors.js";
import { createDevice, type PciDevice } from "../server/index.js";
import { EduDevice, type EduOptions } from "./edu/index.js";
import { type Idio16Options, PciIdio16 } from "./gpio/index.js";
import { FileBacking, MemoryBacking, NvmeController } from "./nvme/index.js";

export { EduDevice, type EduOptions } from "./edu/index.js";
export { type Idio16Events, type Idio16Options, PciIdio16 } from "./gpio/index.js";
export {
  type BackingStore,
  FileBacking,
  MemoryBacking,
  NvmeController,
  type NvmeOptions,
  type NvmeRegisterState,
} from "./nvme/index.js";

/** How `vfio-ts serve nvme` builds its controller. */
export interface NvmeServeOptions {
  /** A file or block device holding the namespace; memory when absent. */
  readonly backing?: string;
  /** Bytes: the memory namespace's size (default 1 GiB), or the file's (grown if smaller). */
  readonly size?: number;
  /** 512 (default) or 4096. */
  readonly blockSize?: number;
}
/** One fresh device, ready to serve, and the model object that controls it from the host. */
export interface BuiltinInstance<C = EduDevice | PciIdio16 | NvmeController> {
  readonly name: string;
  readonly device: PciDevice;
  /** The host-side control object (the model itself). */
  readonly control: C;
}

/** The control object and options of each built-in device. */
export interface BuiltinDeviceTypes {
  edu: { control: EduDevice; options: EduOptions };
  gpio: { control: PciIdio16; options: Idio16Options };
  nvme: { control: NvmeController; options: NvmeServeOptions };
}

/** The name of a built-in device ("edu", "gpio"). */
export type BuiltinDeviceName = keyof BuiltinDeviceTypes;

/** A built-in device as `vfio-ts serve <name>` finds it: a name, a description and a factory. */
export interface BuiltinDevice<N extends BuiltinDeviceName = BuiltinDeviceName> {
  readonly name: N;
  readonly description: string;
  /** Builds a fresh instance: the device to serve and the model that controls it. */
  create(
    options?: BuiltinDeviceTypes[N]["options"],
  ): BuiltinInstance<BuiltinDeviceTypes[N]["control"]>;
}

const edu: BuiltinDevice<"edu"> = {
  name: "edu",
  description: "QEMU's edu educational device (1234:11e8): factorial, interrupts, DMA",
  create: (options) => {
    const control = new EduDevice(options);
    return { name: "edu", device: createDevice(control.definition), control };
  },
};

const gpio: BuiltinDevice<"gpio"> = {
  name: "gpio",
  description: "ACCES PCI-IDIO-16 (494f:0dc8): 16 outputs, 16 isolated inputs, change-of-state IRQ",
  create: (options) => {
    const control = new PciIdio16(options);
    return { name: "gpio", device: control.device, control };
  },
};

const nvme: BuiltinDevice<"nvme"> = {
  name: "nvme",
  description:
    "NVMe controller (1b36:0010), one namespace in memory or in a file (--backing, --size)",
  create: (options = {}) => {
    const backing =
      options.backing !== undefined
        ? new FileBacking(options.backing, options.size)
        : new MemoryBacking(options.size ?? 1 << 30);
    const control = new NvmeController({ backing, blockSize: options.blockSize });
    return { name: "nvme", device: createDevice(control.definition), control };
  },
};

/** Every built-in device, in name order. */
export const builtinDevices: readonly BuiltinDevice[] = [edu, gpio, nvme];

/** The names of the built-in devices, for usage messages. */
export function builtinDeviceNames(): string[] {
  return builtinDevices.map((d) => d.name);
}

/** The built-in device called `name`, if there is one. */
export function findBuiltinDevice(name: string): BuiltinDevice | undefined {
  return builtinDevices.find((d) => d.name === name);
}

/** A fresh instance of built-in device `name`: its PciDevice and its control object; ENOENT for an unknown name. */
export function instantiateBuiltinDevice<N extends BuiltinDeviceName>(
  name: N,
  options?: BuiltinDeviceTypes[N]["options"],
): BuiltinInstance<BuiltinDeviceTypes[N]["control"]>;
export function instantiateBuiltinDevice(name: string, options?: object): BuiltinInstance;
export function instantiateBuiltinDevice(name: string, options?: object): BuiltinInstance {
  const factory = findBuiltinDevice(name) as BuiltinDevice<BuiltinDeviceName> | undefined;
  if (!factory) {
    throw new VfioError(
      "ENOENT",
      `no built-in device "${name}" (known: ${builtinDeviceNames().join(", ")})`,
    );
  }
  return (factory.create as (o?: object) => BuiltinInstance)(options);
}
