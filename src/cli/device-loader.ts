/**
 * Resolves the <device> argument of `vfio-ts serve`: a built-in device by name,
 * or a JavaScript module whose default export is a DeviceDefinition, a PciDevice,
 * or a (possibly async) factory returning either.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  builtinDeviceNames,
  findBuiltinDevice,
  instantiateBuiltinDevice,
} from "../devices/index.js";
import { createDevice, type DeviceDefinition, PciDevice } from "../server/index.js";
import { CliError, EXIT_USAGE } from "./cli-error.js";

export interface LoadedDevice {
  readonly device: PciDevice;
  /** The host-side model of a built-in device (gpio inputs, ...); undefined for modules. */
  readonly control?: unknown;
  /** "edu (built-in)" or the module path, for logs. */
  readonly source: string;
}

function isDefinition(v: unknown): v is DeviceDefinition {
  const d = v as Partial<DeviceDefinition> | null;
  return (
    typeof d === "object" &&
    d !== null &&
    typeof d.vendorId === "number" &&
    typeof d.deviceId === "number" &&
    typeof d.classCode === "number"
  );
}

function looksLikePath(arg: string): boolean {
  return arg.includes("/") || /\.(c|m)?js$/.test(arg) || existsSync(arg);
}

/** Turns whatever a device module exported into a PciDevice. */
export async function deviceFromExport(exported: unknown, what: string): Promise<PciDevice> {
  let v = exported;
  if (typeof v === "function") v = await (v as () => unknown)();
  if (v instanceof PciDevice) return v;
  if (isDefinition(v)) return createDevice(v);
  throw new CliError(
    `${what}: the default export is not a device (expected a DeviceDefinition with vendorId, ` +
      "deviceId and classCode, a PciDevice, or a function returning one)",
    EXIT_USAGE,
  );
}

export async function loadDevice(arg: string): Promise<LoadedDevice> {
  if (findBuiltinDevice(arg) !== undefined) {
    const { device, control } = instantiateBuiltinDevice(arg);
    return { device, control, source: `${arg} (built-in)` };
  }
  if (!looksLikePath(arg)) {
    throw new CliError(
      `unknown device "${arg}": built-in devices are ${builtinDeviceNames().join(", ")}; ` +
        "or give the path of a device module",
      EXIT_USAGE,
    );
  }
  const path = resolve(arg);
  if (!existsSync(path)) throw new CliError(`no device module at ${path}`, EXIT_USAGE);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (err) {
    throw new CliError(`cannot load device module ${path}: ${(err as Error).message}`, EXIT_USAGE, {
      cause: err,
    });
  }
  if (mod.default === undefined) {
    throw new CliError(`device module ${path} has no default export`, EXIT_USAGE);
  }
  return { device: await deviceFromExport(mod.default, path), source: path };
}
