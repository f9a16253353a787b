/**
 * `vfio-ts lspci --socket PATH` or `--device BDF`: opens the device as a vfio-user
 * client or through the kernel's /dev/vfio, reads config space and the BAR/ROM sizes
 * from region info, and prints them like lspci.
 */
import type { DeviceHandle } from "../../client/device-handle.js";
import { openKernelDevice } from "../../client/kernel/open-device.js";
import { PciSysfs, parsePciAddress } from "../../client/kernel/sysfs.js";
import { VfioUserClient } from "../../client/vfio-user-client.js";
import { VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX } from "../../protocol/index.js";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, explainConnectError } from "../cli-error.js";
import type { LspciHost } from "./header.js";
import { type LspciDevice, renderLspci } from "./render.js";

export interface LspciCommandOptions {
  /** A vfio-user server's socket; or */
  readonly socket?: string;
  /** a PCI address bound to vfio-pci, read through /dev/vfio. */
  readonly device?: string;
  readonly verbose?: number;
  readonly hex?: number;
  /** Printed as the bus address; default "00:00.0". */
  readonly slot?: string;
  /** VERSION handshake timeout; default 5000 ms. */
  readonly timeoutMs?: number;
}

/** Reads what lspci shows from an open device. */
export async function readLspciDevice(
  dev: DeviceHandle,
  slot?: string,
  host?: LspciHost,
): Promise<LspciDevice> {
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
  return {
    config,
    barSizes,
    romSize,
    ...(slot !== undefined ? { slot } : {}),
    ...(host !== undefined ? { host } : {}),
  };
}

export async function lspciCommand(opts: LspciCommandOptions): Promise<number> {
  if ((opts.socket === undefined) === (opts.device === undefined)) {
    throw new CliError("lspci needs exactly one of --socket PATH and --device BDF", EXIT_USAGE);
  }
  let dev: DeviceHandle;
  let close: () => Promise<void>;
  let where: string;
  let host: LspciHost | undefined;
  if (opts.device !== undefined) {
    where = opts.device;
    try {
      // Read before opening: enabling the device for us can reroute its INTx, and
      // lspci shows the device as it stands.
      host = hostInfo(parsePciAddress(opts.device));
      dev = await openKernelDevice(opts.device);
    } catch (err) {
      throw new CliError((err as Error).message, EXIT_FAILURE, { cause: err });
    }
    close = () => dev.close();
  } else {
    const socket = opts.socket!;
    where = socket;
    let client: VfioUserClient;
    try {
      client = await VfioUserClient.connect(socket, {
        handshakeTimeoutMs: opts.timeoutMs ?? 5000,
        requestTimeoutMs: 10_000,
      });
    } catch (err) {
      throw explainConnectError(err, socket);
    }
    dev = client.device;
    close = () => client.close();
  }
  try {
    const slot =
      opts.slot ?? (opts.device !== undefined ? dev.name.replace(/^0000:/, "") : undefined);
    const device = await readLspciDevice(dev, slot, host);
    process.stdout.write(renderLspci(device, { verbose: opts.verbose ?? 0, hex: opts.hex ?? 0 }));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`reading the device at ${where} failed: ${(err as Error).message}`);
  } finally {
    await close().catch(() => {});
  }
}

/** What sysfs says of a kernel device, shown where lspci shows it. */
function hostInfo(address: string): LspciHost {
  const sysfs = new PciSysfs();
  const irq = sysfs.irq(address);
  const driver = sysfs.driver(address);
  const iommuGroup = sysfs.iommuGroup(address);
  return {
    iommuGroup,
    ...(irq !== undefined ? { irq } : {}),
    ...(driver !== null ? { driver } : {}),
  };
}
