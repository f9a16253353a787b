/**
 * Built-in sample devices, by name, for `vfio-ts serve <device>` and for tests.
 *
 * A device model exists before its PciDevice (its definition is createDevice's
 * input), so an instance is used in two steps:
 *
 *   const inst = createBuiltinDevice("gpio");
 *   const device = createDevice(inst.definition);
 *   inst.bind(device);            // or: const { device, control } = instantiateBuiltinDevice("gpio")
 *   inst.control.setInput(3, true);
 */
import { VfioError } from "../errors.js";
import type { DeviceDefinition } from "../server/index.js";
import { createDevice, type PciDevice } from "../server/index.js";
import { EduDevice, type EduOptions } from "./edu/index.js";
import { type Idio16Options, PciIdio16 } from "./gpio/index.js";
import type { DeviceHost } from "./host.js";

export { EduDevice, type EduOptions } from "./edu/index.js";
export { type Idio16Events, type Idio16Options, PciIdio16 } from "./gpio/index.js";
export { type DeviceHost, unboundHost } from "./host.js";

/** One fresh device: its definition, and the model object that controls it from the host. */
export interface BuiltinInstance<C = EduDevice | PciIdio16> {
  readonly name: string;
  readonly definition: DeviceDefinition;
  /** The host-side control object (the model itself). */
  readonly control: C;
  /** Connects the model to the PciDevice built from `definition`. */
  bind(host: DeviceHost): void;
}

/** The control object and options of each built-in device. */
export interface BuiltinDeviceTypes {
  edu: { control: EduDevice; options: EduOptions };
  gpio: { control: PciIdio16; options: Idio16Options };
}

export type BuiltinDeviceName = keyof BuiltinDeviceTypes;

export interface BuiltinDevice<N extends BuiltinDeviceName = BuiltinDeviceName> {
  readonly name: N;
  readonly description: string;
  create(
    options?: BuiltinDeviceTypes[N]["options"],
  ): BuiltinInstance<BuiltinDeviceTypes[N]["control"]>;
}

function instance<C extends { definition: DeviceDefinition; bind(host: DeviceHost): unknown }>(
  name: string,
  control: C,
): BuiltinInstance<C> {
  return { name, definition: control.definition, control, bind: (host) => void control.bind(host) };
}

const edu: BuiltinDevice<"edu"> = {
  name: "edu",
  description: "QEMU's edu educational device (1234:11e8): factorial, interrupts, DMA",
  create: (options) => instance("edu", new EduDevice(options)),
};

const gpio: BuiltinDevice<"gpio"> = {
  name: "gpio",
  description: "ACCES PCI-IDIO-16 (494f:0dc8): 16 outputs, 16 isolated inputs, change-of-state IRQ",
  create: (options) => instance("gpio", new PciIdio16(options)),
};

/** Every built-in device, in name order. */
export const builtinDevices: readonly BuiltinDevice[] = [edu, gpio];

export function builtinDeviceNames(): string[] {
  return builtinDevices.map((d) => d.name);
}

export function findBuiltinDevice(name: string): BuiltinDevice | undefined {
  return builtinDevices.find((d) => d.name === name);
}

/** A fresh instance of built-in device `name`; ENOENT for an unknown name. */
export function createBuiltinDevice<N extends BuiltinDeviceName>(
  name: N,
  options?: BuiltinDeviceTypes[N]["options"],
): BuiltinInstance<BuiltinDeviceTypes[N]["control"]>;
export function createBuiltinDevice(name: string, options?: object): BuiltinInstance;
export function createBuiltinDevice(name: string, options?: object): BuiltinInstance {
  const factory = findBuiltinDevice(name) as BuiltinDevice<BuiltinDeviceName> | undefined;
  if (!factory) {
    throw new VfioError(
      "ENOENT",
      `no built-in device "${name}" (known: ${builtinDeviceNames().join(", ")})`,
    );
  }
  return (factory.create as (o?: object) => BuiltinInstance)(options);
}

/** createBuiltinDevice + createDevice + bind: a PciDevice ready to serve, and its control object. */
export function instantiateBuiltinDevice<N extends BuiltinDeviceName>(
  name: N,
  options?: BuiltinDeviceTypes[N]["options"],
): { device: PciDevice; control: BuiltinDeviceTypes[N]["control"] };
export function instantiateBuiltinDevice(
  name: string,
  options?: object,
): { device: PciDevice; control: EduDevice | PciIdio16 };
export function instantiateBuiltinDevice(
  name: string,
  options?: object,
): { device: PciDevice; control: EduDevice | PciIdio16 } {
  const inst = createBuiltinDevice(name, options);
  const device = createDevice(inst.definition);
  inst.bind(device);
  return { device, control: inst.control };
}
