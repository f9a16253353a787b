/**
 * `vfio-ts nvme identify|read|write`: the user-level NVMe driver of src/drivers/nvme
 * on a controller reached through the kernel's /dev/vfio (--device BDF, bound with
 * `vfio-ts bind`) or a vfio-user NVMe server (--socket PATH).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { DeviceHandle } from "../client/device-handle.js";
import { openKernelDevice } from "../client/kernel/open-device.js";
import { VfioUserClient } from "../client/vfio-user-client.js";
import type { NvmeIrqMode } from "../drivers/nvme/completion-irqs.js";
import { NvmeDriver } from "../drivers/nvme/driver.js";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, explainConnectError } from "./cli-error.js";
import { hexDump } from "./lspci/hexdump.js";

export interface NvmeTarget {
  readonly socket?: string;
  readonly device?: string;
  readonly irq?: NvmeIrqMode;
}

export interface NvmeReadOptions extends NvmeTarget {
  readonly nsid: number;
  readonly lba: bigint;
  readonly count: number;
  /** Write the blocks to this file instead of a hex dump on stdout. */
  readonly output?: string;
}

export interface NvmeWriteOptions extends NvmeTarget {
  readonly nsid: number;
  readonly lba: bigint;
  /** A file, padded with zeroes to whole blocks; or */
  readonly input?: string;
  /** `count` blocks of this byte value. */
  readonly pattern?: number;
  readonly count?: number;
}

const SOCKET_HELP =
  "socket of a vfio-user NVMe server, e.g. `vfio-ts serve nvme --socket-path PATH`";

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

function lbaArg(value: string): bigint {
  try {
    const n = BigInt(value);
    if (n >= 0n) return n;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError("expected a non-negative integer");
}

/** Opens the target, runs `fn` with a driver on it, and closes both. */
async function withDriver<T>(opts: NvmeTarget, fn: (d: NvmeDriver) => Promise<T>): Promise<T> {
  if ((opts.socket === undefined) === (opts.device === undefined)) {
    throw new CliError("nvme needs exactly one of --socket PATH and --device BDF", EXIT_USAGE);
  }
  let dev: DeviceHandle;
  let close: () => Promise<void>;
  if (opts.device !== undefined) {
    try {
      dev = await openKernelDevice(opts.device);
    } catch (err) {
      throw new CliError((err as Error).message, EXIT_FAILURE, { cause: err });
    }
    close = () => dev.close();
  } else {
    let client: VfioUserClient;
    try {
      client = await VfioUserClient.connect(opts.socket!, { handshakeTimeoutMs: 5000 });
    } catch (err) {
      throw explainConnectError(err, opts.socket!);
    }
    dev = client.device;
    close = () => client.close();
  }
  try {
    let driver: NvmeDriver;
    try {
      driver = await NvmeDriver.open(dev, { irqMode: opts.irq ?? "auto" });
    } catch (err) {
      throw new CliError(
        `${dev.name}: NVMe bring-up failed: ${(err as Error).message}`,
        EXIT_FAILURE,
        {
          cause: err,
        },
      );
    }
    try {
      return await fn(driver);
    } finally {
      await driver.close();
    }
  } finally {
    await close().catch(() => {});
  }
}

export function nvmeIdentifyCommand(opts: NvmeTarget): Promise<number> {
  return withDriver(opts, async (d) => {
    const { controller: c, namespaces, version } = d.identify();
    const lines = [
      `model        ${c.model}`,
      `serial       ${c.serial}`,
      `firmware     ${c.firmware}`,
      `vendor       ${hex4(c.vendorId)} (subsystem ${hex4(c.subsystemVendorId)})`,
      `version      ${version}`,
      `controller   ${c.controllerId}`,
      `max transfer ${d.maxTransferBytes} bytes (MDTS ${c.mdts})`,
      `queues       ${d.queues.length} I/O queue pair(s), ${d.controller.irqs.mode} completion`,
      `namespaces   ${c.namespaces}`,
      ...namespaces.map((n) => `namespace ${n.nsid}: ${n.blocks} blocks of ${n.blockSize} bytes`),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT_OK;
  });
}

export function nvmeReadCommand(opts: NvmeReadOptions): Promise<number> {
  return withDriver(opts, async (d) => {
    const data = await d.readBlocks(opts.nsid, opts.lba, opts.count);
    if (opts.output !== undefined) writeFileSync(opts.output, data);
    else process.stdout.write(`${hexDump(data).join("\n")}\n`);
    return EXIT_OK;
  });
}

export function nvmeWriteCommand(opts: NvmeWriteOptions): Promise<number> {
  if ((opts.input === undefined) === (opts.pattern === undefined)) {
    throw new CliError(
      "nvme write needs exactly one of --input FILE and --pattern BYTE",
      EXIT_USAGE,
    );
  }
  if (opts.pattern !== undefined && opts.count === undefined) {
    throw new CliError("nvme write --pattern needs --count BLOCKS", EXIT_USAGE);
  }
  const input = opts.input === undefined ? undefined : readFileSync(opts.input);
  return withDriver(opts, async (d) => {
    const bs = d.namespace(opts.nsid).blockSize;
    let data: Uint8Array;
    if (input !== undefined) {
      data = new Uint8Array(Math.max(1, Math.ceil(input.byteLength / bs)) * bs);
      data.set(input);
    } else {
      data = new Uint8Array(opts.count! * bs).fill(opts.pattern! & 0xff);
    }
    await d.writeBlocks(opts.nsid, opts.lba, data);
    await d.flush(opts.nsid);
    process.stdout.write(
      `wrote ${data.byteLength / bs} blocks at LBA ${opts.lba} of namespace ${opts.nsid}\n`,
    );
    return EXIT_OK;
  });
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option("-s, --socket <path>", SOCKET_HELP)
    .option("--device <bdf>", "an NVMe controller bound to vfio-pci, driven through /dev/vfio")
    .addOption(
      new Option("--irq <mode>", "completion notification")
        .choices(["auto", "msix", "msi", "intx", "poll"])
        .default("auto"),
    );
}

/** Adds `nvme identify|read|write` to the program. */
export function registerNvmeCommand(program: Command, exit: (code: number) => void): void {
  const nvme = program
    .command("nvme")
    .description("drive an NVMe controller with the user-level NVMe driver: identify, read, write");
  targetOptions(
    nvme.command("identify").description("identify the controller and its namespaces"),
  ).action(async (opts: NvmeTarget) => exit(await nvmeIdentifyCommand(opts)));
  targetOptions(nvme.command("read").description("read blocks (hex dump, or --output FILE)"))
    .option("--nsid <n>", "namespace", integer, 1)
    .requiredOption("--lba <lba>", "first logical block", lbaArg)
    .option("--count <blocks>", "number of blocks", integer, 1)
    .option("-o, --output <file>", "write the blocks to this file")
    .action(async (opts: NvmeReadOptions) => exit(await nvmeReadCommand(opts)));
  targetOptions(
    nvme
      .command("write")
      .description("write blocks from --input FILE or --pattern BYTE, then flush"),
  )
    .option("--nsid <n>", "namespace", integer, 1)
    .requiredOption("--lba <lba>", "first logical block", lbaArg)
    .option("-i, --input <file>", "data to write, padded with zeroes to whole blocks")
    .option("--pattern <byte>", "fill --count blocks with this byte", integer)
    .option("--count <blocks>", "number of blocks for --pattern", integer)
    .action(async (opts: NvmeWriteOptions) => exit(await nvmeWriteCommand(opts)));
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, "0");
}
