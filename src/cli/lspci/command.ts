/**
 * `vfio-ts lspci --socket PATH`: connects as a vfio-user client, reads config
 * space and the BAR/ROM sizes from region info, and prints them like lspci.
 */
import { VfioUserClient } from "../../client/vfio-user-client.js";
import { VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX } from "../../protocol/index.js";
import { CliError, EXIT_OK, explainConnectError } from "../cli-error.js";
import { type LspciDevice, renderLspci } from "./render.js";

export interface LspciCommandOptions {
  readonly socket: string;
  readonly verbose?: number;
  readonly hex?: number;
  /** Printed as the bus address; default "00:00.0". */
  readonly slot?: string;
  /** VERSION handshake timeout; default 5000 ms. */
  readonly timeoutMs?: number;
}

/** Reads what lspci shows from a connected client's device. */
export async function readLspciDevice(client: VfioUserClient, slot?: string): Promise<LspciDevice> {
  const dev = client.device;
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
  return { config, barSizes, romSize, ...(slot !== undefined ? { slot } : {}) };
}

export async function lspciCommand(opts: LspciCommandOptions): Promise<number> {
  let client: VfioUserClient;
  try {
    client = await VfioUserClient.connect(opts.socket, {
      handshakeTimeoutMs: opts.timeoutMs ?? 5000,
      requestTimeoutMs: 10_000,
    });
  } catch (err) {
    throw explainConnectError(err, opts.socket);
  }
  try {
    const device = await readLspciDevice(client, opts.slot);
    process.stdout.write(renderLspci(device, { verbose: opts.verbose ?? 0, hex: opts.hex ?? 0 }));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`reading the device at ${opts.socket} failed: ${(err as Error).message}`);
  } finally {
    await client.close().catch(() => {});
  }
}
