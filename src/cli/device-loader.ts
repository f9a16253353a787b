/**
 * Resolves the <device> argument of `vfio-ts serve`: a built-in device by name,
 * or a JavaScript module whose default export is a DeviceDefinition, a PciDevice,
 * or a (possibly async) factory returning either.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  builtinDeviceNames,
  findBuiltinDevice,
  instantiateBuiltinDevice,
} from "../devices/index.js";
import {
  createDevice,
  type DeviceDefinition,
  isPciDevice,
  type PciDevice,
} from "../server/index.js";
import { CliError, EXIT_BAD_DEVICE, EXIT_FAILURE, EXIT_USAGE } from "./cli-error.js";

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

/** "file:line:column" of the first stack frame inside `path`, or just the path. */
function whereIn(err: unknown, path: string): string {
  const stack = String((err as Error | null)?.stack ?? "");
  const href = pathToFileURL(path).href;
  for (const line of stack.split("\n")) {
    const m = /(file:\/\/[^\s()]+|\/[^\s():]+):(\d+):(\d+)/.exec(line);
    if (m && (m[1] === href || m[1] === path)) return `${path}:${m[2]}:${m[3]}`;
  }
  return path;
}

/**
 * A syntax error's position. Node's import() leaves it out of the error (it prints it only
 * for an uncaught one), so on this failure path we ask `node --check`, which prints
 * "path:line" first. A syntax error in a module it imports leaves just the path.
 */
function syntaxErrorWhere(path: string): string {
  const r = spawnSync(process.execPath, ["--check", path], { encoding: "utf8", timeout: 10_000 });
  const first = (r.stderr ?? "").split("\n")[0] ?? "";
  const m = /:(\d+)$/.exec(first);
  return r.status !== 0 && m && first.startsWith(path) ? `${path}:${m[1]}` : path;
}

function oneLine(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Turns whatever a device module exported into a PciDevice. */
export async function deviceFromExport(exported: unknown, what: string): Promise<PciDevice> {
  let v = exported;
  try {
    if (typeof v === "function") v = await (v as () => unknown)();
    // isPciDevice, not instanceof: the module may use another copy of vfio-ts than this CLI.
    if (isPciDevice(v)) return v;
    if (isDefinition(v)) return createDevice(v);
  } catch (err) {
    throw new CliError(
      `the device in ${whereIn(err, what)} failed to build: ${oneLine(err)}`,
      EXIT_BAD_DEVICE,
      { cause: err },
    );
  }
  throw new CliError(
    `${what}: the default export is not a device (expected a DeviceDefinition with vendorId, ` +
      "deviceId and classCode, a PciDevice, or a function returning one)",
    EXIT_BAD_DEVICE,
  );
}

/**
 * Loads `arg`: a built-in device, built with `options` (the nvme device's backing and
 * size), or a device module.
 */
export async function loadDevice(arg: string, options?: object): Promise<LoadedDevice> {
  if (findBuiltinDevice(arg) !== undefined) {
    let built: ReturnType<typeof instantiateBuiltinDevice>;
    try {
      built = instantiateBuiltinDevice(arg, options);
    } catch (err) {
      throw new CliError(`cannot build ${arg}: ${(err as Error).message}`, EXIT_FAILURE, {
        cause: err,
      });
    }
    return { device: built.device, control: built.control, source: `${arg} (built-in)` };
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
  if (/\.(c|m)?tsx?$/.test(path)) {
    throw new CliError(
      `${path} is TypeScript, which Node does not run: compile it with tsc and serve the .js file`,
      EXIT_BAD_DEVICE,
    );
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (err) {
    const where = err instanceof SyntaxError ? syntaxErrorWhere(path) : whereIn(err, path);
    throw new CliError(`cannot load device module ${where}: ${oneLine(err)}`, EXIT_BAD_DEVICE, {
      cause: err,
    });
  }
  if (mod.default === undefined) {
    throw new CliError(`device module ${path} has no default export`, EXIT_BAD_DEVICE);
  }
  return { device: await deviceFromExport(mod.default, path), source: path };
}
