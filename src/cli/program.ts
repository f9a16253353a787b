/**
 * The `vfio-ts` command line: subcommands serve, lspci, trace and demo. Each
 * action resolves to an exit code; errors become one line on stderr.
 */
import { readFileSync } from "node:fs";
import { Command, type CommanderError, InvalidArgumentError, Option } from "commander";
import { builtinDevices } from "../devices/index.js";
import { parseSize } from "../devices/nvme/index.js";
import { MAX_POLL_US } from "../transport/index.js";
import { bindCommand, unbindCommand } from "./bind.js";
import { EXIT_USAGE } from "./cli-error.js";
import { type DemoCommandOptions, demoCommand } from "./demo.js";
import { type LspciCommandOptions, lspciCommand } from "./lspci/command.js";
import { parseIdFilter, parseSlotAddress, parseSlotFilter } from "./lspci/select.js";
import { type MigrateCommandOptions, migrateCommand } from "./migrate.js";
import { registerNvmeCommand } from "./nvme.js";
import { type ServeOptions, serveCommand } from "./serve.js";
import { traceCommand } from "./trace/command.js";

/** Where an action's exit code goes (main.ts sets process.exitCode from it). */
export type ExitSink = (code: number) => void;

/** --poll-us: microseconds of busy polling after each message, 0 (off) to 1000000. */
function pollUs(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > MAX_POLL_US) {
    throw new InvalidArgumentError(`expected an integer from 0 to ${MAX_POLL_US} (microseconds)`);
  }
  return n;
}

function count(_value: string | undefined, previous: number): number {
  return previous + 1;
}

function sizeArg(value: string): number {
  try {
    return parseSize(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function fdNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a file descriptor number");
  return Number(value);
}

const EXIT_HELP = `
Exit status: 0 success; 1 failure (no server, refused, cannot listen, protocol or
device error); 2 bad command line (unknown option or device name, no such module
file, no command at all); 3 the device module cannot be served (TypeScript source,
syntax error, no default export, not a device, its factory or definition throws);
130 interrupted twice.`;

/** The package version, from package.json (dist/src/cli or src/cli are two or three levels down). */
function packageVersion(): string {
  for (const rel of ["../../../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "vfio-ts" && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return "unknown";
}

export function buildProgram(exit: ExitSink): Command {
  const program = new Command("vfio-ts")
    .description("Serve PCI devices written in TypeScript over vfio-user, and inspect them")
    .version(packageVersion(), "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_HELP)
    .exitOverride();

  const devices = builtinDevices.map((d) => `  ${d.name.padEnd(6)} ${d.description}`).join("\n");
  program
    .command("serve")
    .description("serve a device on a UNIX socket until SIGINT/SIGTERM, one client at a time")
    .argument("<device>", "a built-in device name, or the path of a device module")
    .option("--socket-path <path>", "socket file to listen on")
    .option("-s, --socket <path>", "alias of --socket-path")
    .option(
      "--fd <n>",
      "serve on inherited fd N: a listening UNIX socket, or one connected to the client",
      fdNumber,
    )
    .option("--print-capabilities", "print the device and the backend options as JSON, and exit")
    .option("--verbose", "log every access the client makes; a host console on stdin", false)
    .addOption(
      new Option(
        "--dma-layout <layout>",
        "DMA_READ/WRITE layout: the spec's, or QEMU's 32-bit count (QEMU's vfio-user-pci)",
      )
        .choices(["spec", "qemu"])
        .default("spec"),
    )
    .addOption(
      new Option(
        "--dma-fds <policy>",
        "map: mmap every DMA fd; sealed: only memfds sealed against shrinking, others by messages",
      )
        .choices(["map", "sealed"])
        .default("map"),
    )
    .option(
      "--poll-us <usec>",
      "after each message, spin up to usec µs for the next one instead of sleeping: lower latency, more CPU (0: off)",
      pollUs,
      0,
    )
    .option(
      "--backing <file>",
      "nvme: the file or block device holding the namespace (default: memory)",
    )
    .option(
      "--size <bytes>",
      "nvme: the namespace size, e.g. 64M or 1G (default 1G in memory)",
      sizeArg,
    )
    .addOption(
      new Option("--block-size <bytes>", "nvme: the LBA size")
        .choices(["512", "4096"])
        .argParser((v) => Number(v)),
    )
    .addHelpText(
      "after",
      `\nBuilt-in devices:\n${devices}\n\nA device module's default export is a DeviceDefinition, a PciDevice,\nor a function (maybe async) returning one.`,
    )
    .action(async (device: string, opts: ServeOptions) => {
      exit(await serveCommand(device, opts));
    });

  program
    .command("lspci")
    .description("show a device's config space like lspci (pciutils' options)")
    .option("--socket <path>", "a vfio-user server's socket")
    .option("--device <bdf>", "a PCI device bound to vfio-pci, read through /dev/vfio")
    .option("-v, --verbose", "be verbose (-vv: very verbose)", count, 0)
    .option("-x, --hex", "hex dump of config space (-xxx: 256 bytes, -xxxx: 4096)", count, 0)
    .option("-n, --numeric", "numeric ids (-nn: names and numbers)", count, 0)
    .option("-D, --domain", "always show the PCI domain", false)
    .option("-k, --kernel", "show who drives the device: for vfio-user, the serving process", false)
    .option(
      "-s, --select <[[[[dom]:]bus]:][slot][.[func]]>",
      "show only a device at this address",
      parseSlotFilter,
    )
    .option(
      "-d, --ids <[vendor]:[device][:class]>",
      "show only a device with these ids",
      parseIdFilter,
    )
    .option(
      "--slot <bdf>",
      "the address to show the device at (default 0000:00:00.0)",
      parseSlotAddress,
    )
    .action(async (opts: LspciCommandOptions) => {
      exit(await lspciCommand(opts));
    });

  program
    .command("trace")
    .description("proxy a vfio-user connection and print every message that passes")
    .requiredOption("-l, --listen <path>", "socket for the client to connect to")
    .requiredOption("-c, --connect <path>", "socket of the real server")
    .option("--json", "one JSON object per line", false)
    .option("--once", "exit after the first client disconnects", false)
    .action(async (opts: { listen: string; connect: string; json: boolean; once: boolean }) => {
      exit(await traceCommand(opts));
    });

  program
    .command("bind")
    .description("as root: bind a PCI device to vfio-pci for user-level drivers (/dev/vfio)")
    .argument("<address>", "PCI address, e.g. 0000:00:03.0")
    .option("--owner <uid[:gid]>", "give the device's /dev/vfio/<group> node to this user")
    .action(async (address: string, opts: { owner?: string }) => {
      exit(await bindCommand(address, opts));
    });

  program
    .command("unbind")
    .description("as root: release a PCI device from vfio-pci back to its own driver")
    .argument("<address>", "PCI address, e.g. 0000:00:03.0")
    .action(async (address: string) => {
      exit(await unbindCommand(address));
    });

  registerNvmeCommand(program, exit);

  program
    .command("migrate")
    .description(
      "move a device between two vfio-user servers (live migration v2: optional pre-copy " +
        "rounds, then stop-copy); the source stays stopped, the destination runs",
    )
    .requiredOption("--from <path>", "socket of the server the device leaves")
    .requiredOption("--to <path>", "socket of the server with a fresh instance of the device")
    .option(
      "--precopy-rounds <n>",
      "pre-copy rounds while the source runs (when both devices support PRE_COPY)",
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 1000) {
          throw new InvalidArgumentError("expected an integer 0..1000");
        }
        return n;
      },
      0,
    )
    .option("--json", "print the report as one JSON object", false)
    .action(async (opts: MigrateCommandOptions) => {
      exit(await migrateCommand(opts));
    });

  program
    .command("demo")
    .description(
      "run the edu driver end to end: against an edu server in a child process (default), " +
        "an edu model in this process (--loopback), or a real edu through /dev/vfio (--device)",
    )
    .option("--loopback", "the edu model in this process, over the loopback backend", false)
    .option(
      "--device <bdf>",
      "an edu bound to vfio-pci (e.g. QEMU's -device edu), through the kernel",
    )
    .action(async (opts: DemoCommandOptions) => {
      exit(await demoCommand(opts));
    });

  return program;
}

/** Exit code for a commander error (usage problems, --help, --version). */
export function commanderExitCode(err: CommanderError): number {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.help") return 0;
  if (err.code === "commander.version") return 0;
  return err.exitCode === 0 ? 0 : EXIT_USAGE;
}
