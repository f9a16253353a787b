/**
 * `vfio-ts lspci --socket PATH | --device BDF`: reads a device's config space and BAR/ROM
 * sizes from a config source (a vfio-user server as a client, or a real device through
 * the kernel's /dev/vfio) and prints them like lspci, with
 * pciutils' options: -v/-vv, -x/-xxx/-xxxx, -n/-nn, -D, -k, and the -s/-d selectors.
 */
import { CliError, EXIT_OK, EXIT_USAGE } from "../cli-error.js";
import { renderLspci } from "./render.js";
import { type DeviceIds, formatSlot, type Matcher, type SlotAddress } from "./select.js";
import { kernelSource, type LspciSource, socketSource } from "./source.js";

export interface LspciCommandOptions {
  /** A vfio-user server's socket; or */
  readonly socket?: string;
  /** a PCI address bound to vfio-pci, read through /dev/vfio. */
  readonly device?: string;
  readonly verbose?: number;
  readonly hex?: number;
  readonly numeric?: number;
  readonly domain?: boolean;
  readonly kernel?: boolean;
  /** Where the device is shown (our --slot); default 0000:00:00.0. */
  readonly slot?: SlotAddress;
  /** pciutils' -s: show the device only if its address matches. */
  readonly select?: Matcher<SlotAddress>;
  /** pciutils' -d: show the device only if its ids match. */
  readonly ids?: Matcher<DeviceIds>;
  /** VERSION handshake timeout; default 5000 ms. */
  readonly timeoutMs?: number;
}

const ORIGIN: SlotAddress = { domain: 0, bus: 0, slot: 0, func: 0 };

function idsOf(config: Uint8Array): DeviceIds {
  const v = new DataView(config.buffer, config.byteOffset, config.byteLength);
  return {
    vendorId: v.getUint16(0, true),
    deviceId: v.getUint16(2, true),
    classId: v.getUint16(0x0a, true),
  };
}

/** Prints the device a source reads, if the selectors let it through (as lspci: nothing otherwise). */
export async function lspciFrom(
  source: LspciSource,
  opts: Omit<LspciCommandOptions, "socket" | "device">,
): Promise<number> {
  try {
    const address = opts.slot ?? ORIGIN;
    if (opts.select && !opts.select(address)) return EXIT_OK;
    const device = await source.read();
    if (opts.ids && !opts.ids(idsOf(device.config))) return EXIT_OK;
    process.stdout.write(
      renderLspci(
        { ...device, slot: formatSlot(address) },
        {
          verbose: opts.verbose ?? 0,
          hex: opts.hex ?? 0,
          numeric: opts.numeric ?? 0,
          domain: opts.domain ?? false,
          kernel: opts.kernel ?? false,
        },
      ),
    );
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`reading ${source.what} failed: ${(err as Error).message}`);
  } finally {
    await source.close();
  }
}

export async function lspciCommand(opts: LspciCommandOptions): Promise<number> {
  if ((opts.socket === undefined) === (opts.device === undefined)) {
    throw new CliError("lspci needs exactly one of --socket PATH and --device BDF", EXIT_USAGE);
  }
  if (opts.device !== undefined) {
    const { source, slot } = await kernelSource(opts.device);
    return lspciFrom(source, { ...opts, slot: opts.slot ?? slot });
  }
  return lspciFrom(await socketSource(opts.socket!, opts.timeoutMs ?? 5000), opts);
}
