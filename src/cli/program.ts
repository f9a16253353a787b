/**
 * The `vfio-ts` command line: subcommands serve, lspci, trace and demo. Each
 * action resolves to an exit code; errors become one line on stderr.
 */
import { readFileSync } from "node:fs";
import { Command, type CommanderError, InvalidArgumentError, Option } from "commander";
import { builtinDevices } from "../devices/index.js";
import { MAX_POLL_US } from "../transport/index.js";
import { bindCommand, unbindCommand } from "./bind.js";
import { EXIT_USAGE } from "./cli-error.js";
import { demoCommand } from "./demo.js";
import { lspciCommand } from "./lspci/command.js";
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

function slotName(value: string): string {
  if (!/^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(value)) {
    throw new InvalidArgumentError("expected [dddd:]bb:dd.f, e.g. 00:04.0");
  }
  return value;
}

const EXIT_HELP = `
Exit status: 0 success, 1 failure (no server, refused, protocol or device error),
2 bad command line, 130 interrupted twice.`;

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
    .requiredOption("-s, --socket <path>", "socket file to listen on")
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
    .addHelpText(
      "after",
      `\nBuilt-in devices:\n${devices}\n\nA device module's default export is a DeviceDefinition, a PciDevice,\nor a function (maybe async) returning one.`,
    )
    .action(async (device: string, opts: ServeOptions) => {
      exit(await serveCommand(device, opts));
    });

  program
    .command("lspci")
    .description("show a device's config space like lspci: a vfio-user server's, or a real one's")
    .option("-s, --socket <path>", "socket of the vfio-user server")
    .option("--device <bdf>", "a PCI device bound to vfio-pci, read through /dev/vfio")
    .option("-v, --verbose", "be verbose (-vv: very verbose)", count, 0)
    .option("-x, --hex", "hex dump of config space (-xxx: 256 bytes, -xxxx: 4096)", count, 0)
    .option("--slot <bdf>", "bus address to print (default 00:00.0, or the device's)", slotName)
    .action(
      async (opts: {
        socket?: string;
        device?: string;
        verbose: number;
        hex: number;
        slot?: string;
      }) => {
        exit(await lspciCommand(opts));
      },
    );

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

  program
    .command("demo")
    .description("run the edu driver demo: an edu server in a child process, driven end to end")
    .action(async () => {
      exit(await demoCommand());
    });

  return program;
}

/** Exit code for a commander error (usage problems, --help, --version). */
export function commanderExitCode(err: CommanderError): number {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.help") return 0;
  if (err.code === "commander.version") return 0;
  return err.exitCode === 0 ? 0 : EXIT_USAGE;
}
