/**
 * `vfio-ts bind BDF [--owner UID[:GID]]` and `vfio-ts unbind BDF`: hand a PCI device
 * to vfio-pci (and its group node to the user who will run the driver), and give it
 * back to its own driver. Both need root; the driver afterwards does not.
 */
import { chownSync, existsSync } from "node:fs";
import { PciSysfs, parsePciAddress } from "../client/kernel/sysfs.js";
import { CliError, EXIT_OK, EXIT_USAGE } from "./cli-error.js";

export interface BindOptions {
  /** "uid" or "uid:gid": who gets /dev/vfio/<group>. */
  readonly owner?: string;
  /** For tests: where sysfs and /dev/vfio are. */
  readonly sysfsRoot?: string;
  readonly devVfio?: string;
}

function parseOwner(text: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (m === null) throw new CliError(`--owner takes UID or UID:GID, got "${text}"`, EXIT_USAGE);
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}

function usable<T>(what: () => T): T {
  try {
    return what();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message, undefined, { cause: err });
  }
}

export async function bindCommand(address: string, opts: BindOptions = {}): Promise<number> {
  const owner = opts.owner === undefined ? undefined : parseOwner(opts.owner);
  const sysfs = new PciSysfs(opts.sysfsRoot);
  const addr = usable(() => parsePciAddress(address));
  const previous = usable(() => sysfs.bindVfio(addr));
  const group = usable(() => sysfs.iommuGroup(addr));
  const node = `${opts.devVfio ?? "/dev/vfio"}/${group}`;
  if (owner !== undefined) {
    if (!existsSync(node)) throw new CliError(`${node} did not appear after binding ${addr}`);
    usable(() => chownSync(node, owner.uid, owner.gid));
  }
  const others = sysfs.groupDevices(group).filter((d) => d !== addr);
  process.stdout.write(
    `${addr}: bound to vfio-pci${previous !== null && previous !== "vfio-pci" ? ` (was ${previous})` : ""}; ` +
      `IOMMU group ${group} is ${node}` +
      `${owner !== undefined ? `, owned by ${owner.uid}:${owner.gid}` : ""}` +
      `${others.length > 0 ? `; the group also holds ${others.join(", ")}` : ""}\n`,
  );
  return EXIT_OK;
}

export async function unbindCommand(address: string, opts: BindOptions = {}): Promise<number> {
  const sysfs = new PciSysfs(opts.sysfsRoot);
  const addr = usable(() => parsePciAddress(address));
  const now = usable(() => sysfs.unbindVfio(addr));
  process.stdout.write(`${addr}: released from vfio-pci; now bound to ${now ?? "no driver"}\n`);
  return EXIT_OK;
}
