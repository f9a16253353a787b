/**
 * Where lspci's config space comes from. The command renders whatever a source reads; a
 * vfio-user socket is one source, and the kernel's /dev/vfio (`--device BDF`) can be
 * another, written as one more function returning an LspciSource.
 */
import { readFileSync } from "node:fs";
import type { DeviceHandle } from "../../client/device-handle.js";
import { openKernelDevice } from "../../client/kernel/open-device.js";
import { PciSysfs, parsePciAddress } from "../../client/kernel/sysfs.js";
import { VfioUserClient } from "../../client/vfio-user-client.js";
import { VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX } from "../../protocol/index.js";
import { connectUnix } from "../../sys/index.js";
import { CliError, EXIT_FAILURE, explainConnectError } from "../cli-error.js";
import type { LspciDevice } from "./render.js";
import type { SlotAddress } from "./select.js";

export interface LspciSource {
  /** Names the source in errors ("the vfio-user server at /tmp/x.sock"). */
  readonly what: string;
  /** Reads the device; the slot is filled in by the command. */
  read(): Promise<Omit<LspciDevice, "slot">>;
  close(): Promise<void>;
}

/** Reads what lspci shows from an open device, over any backend. */
export async function readLspciDevice(dev: DeviceHandle): Promise<Omit<LspciDevice, "slot">> {
  if (!dev.isPci)
    throw new CliError("the device is not a PCI device (VFIO_DEVICE_FLAGS_PCI is clear)");
  const regions = dev.info.numRegions;
  if (regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
    throw new CliError(`the device has ${regions} regions, none of them config space`);
  }
  const config = await dev.config.snapshot();
  const barSizes: bigint[] = [];
  for (let i = 0; i < 6; i++) barSizes.push((await dev.regionInfo(i)).size);
  const romSize = (await dev.regionInfo(VFIO_PCI_ROM_REGION_INDEX)).size;
  return { config, barSizes, romSize };
}

/** The -k lines for a vfio-user device: the process serving it, from the socket's peer. */
function servingProcess(pid: number): string[] {
  let cmd = "";
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    // another pid namespace, or it has gone: the pid is all we know
  }
  return ["\tKernel driver in use: vfio-user", `\tServed by: pid ${pid}${cmd ? ` (${cmd})` : ""}`];
}

/** A device behind a vfio-user server's socket, read as a client. */
export async function socketSource(path: string, timeoutMs = 5000): Promise<LspciSource> {
  let client: VfioUserClient;
  let pid: number;
  try {
    const socket = connectUnix(path);
    pid = socket.peerCredentials().pid;
    client = await VfioUserClient.fromSocket(socket, {
      name: path,
      handshakeTimeoutMs: timeoutMs,
      requestTimeoutMs: 10_000,
    });
  } catch (err) {
    throw explainConnectError(err, path);
  }
  return {
    what: `the device at ${path}`,
    read: async () => ({
      ...(await readLspciDevice(client.device)),
      driverLines: servingProcess(pid),
    }),
    close: () => client.close().catch(() => {}),
  };
}

/**
 * A real PCI device bound to vfio-pci, read through /dev/vfio. What sysfs says of it
 * (IRQ routing, IOMMU group, driver) is read before the device is opened: enabling it
 * for us can reroute its INTx, and lspci shows the device as it stands.
 */
export async function kernelSource(
  address: string,
): Promise<{ source: LspciSource; slot: SlotAddress }> {
  let dev: DeviceHandle;
  let host: Pick<LspciDevice, "irq" | "iommuGroup" | "driverLines">;
  let addr: string;
  try {
    addr = parsePciAddress(address);
    const sysfs = new PciSysfs();
    sysfs.checkExists(addr);
    const driver = sysfs.driver(addr);
    const irq = sysfs.irq(addr);
    host = {
      iommuGroup: sysfs.iommuGroup(addr),
      ...(irq !== undefined ? { irq } : {}),
      ...(driver !== null ? { driverLines: [`\tKernel driver in use: ${driver}`] } : {}),
    };
    dev = await openKernelDevice(addr);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_FAILURE, { cause: err });
  }
  const [domain = "0", bus = "0", rest = "0.0"] = addr.split(":");
  const [slot = "0", func = "0"] = rest.split(".");
  return {
    source: {
      what: `the device ${addr}`,
      read: async () => ({ ...(await readLspciDevice(dev)), ...host }),
      close: () => dev.close().catch(() => {}),
    },
    slot: {
      domain: Number.parseInt(domain, 16),
      bus: Number.parseInt(bus, 16),
      slot: Number.parseInt(slot, 16),
      func: Number.parseInt(func, 16),
    },
  };
}
