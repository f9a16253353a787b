/**
 * `vfio-ts serve <device> --socket-path PATH | --fd N [--verbose] [--poll-us N]`: serves one device, one
 * client after another, until SIGINT/SIGTERM; then closes the server, which removes the
 * socket file it created. With --fd, it serves on an inherited socket as the spec's backend
 * program conventions ask: a listening one until a signal, a connected one until that
 * client leaves.
 */
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { DmaRwLayout } from "../protocol/index.js";
import { type DmaFdPolicy, type Logger, VfioUserServer } from "../server/index.js";
import { adoptInheritedSocket } from "../sys/index.js";
import { backendCapabilities } from "./capabilities.js";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./cli-error.js";
import { loadDevice } from "./device-loader.js";
import { startHostConsole } from "./host-console.js";
import { untilSignal } from "./signals.js";

export interface ServeOptions {
  /** --socket-path (the spec's name) or its alias --socket. */
  readonly socketPath?: string;
  readonly socket?: string;
  /** --fd: an inherited listening or connected UNIX socket. */
  readonly fd?: number;
  readonly printCapabilities?: boolean;
  readonly verbose?: boolean;
  /** Layout of our DMA_READ/DMA_WRITE messages: the spec's, or QEMU's 32-bit count. */
  readonly dmaLayout?: DmaRwLayout;
  /** Which DMA fds to mmap (see VfioUserServerOptions.dmaFds). */
  readonly dmaFds?: DmaFdPolicy;
  /** Busy-poll this many µs after each message (see VfioUserServerOptions.pollUs). */
  readonly pollUs?: number;
  /** nvme: the file or block device behind the namespace (memory without it). */
  readonly backing?: string;
  /** nvme: the namespace's size in bytes. */
  readonly size?: number;
  /** nvme: the LBA size, 512 or 4096. */
  readonly blockSize?: number;
}

/** The options a built-in device takes from the command line (nvme's storage). */
function deviceOptions(deviceArg: string, opts: ServeOptions): object | undefined {
  const given =
    opts.backing !== undefined || opts.size !== undefined || opts.blockSize !== undefined;
  if (deviceArg === "nvme") {
    return { backing: opts.backing, size: opts.size, blockSize: opts.blockSize };
  }
  if (given) throw new CliError("--backing, --size and --block-size are for nvme", EXIT_USAGE);
  return undefined;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Info and access logs go to stdout, warnings and errors to stderr. */
export function consoleLogger(): Logger {
  return {
    info: (m) => console.log(`${stamp()} ${m}`),
    debug: (m) => console.log(`${stamp()} ${m}`),
    warn: (m) => console.error(`${stamp()} warning: ${m}`),
    error: (m) => console.error(`${stamp()} error: ${m}`),
  };
}

/** Where to serve: exactly one of a socket path (either spelling) and an fd. */
function endpoint(opts: ServeOptions): { path: string } | { fd: number } {
  const paths = [opts.socketPath, opts.socket].filter((p): p is string => p !== undefined);
  if (paths.length === 2 && paths[0] !== paths[1]) {
    throw new CliError("--socket is an alias of --socket-path: give one of them", EXIT_USAGE);
  }
  if (paths.length > 0 && opts.fd !== undefined) {
    throw new CliError("--fd and --socket-path are incompatible: give one of them", EXIT_USAGE);
  }
  if (opts.fd !== undefined) return { fd: opts.fd };
  if (paths[0] !== undefined) return { path: paths[0] };
  throw new CliError("serve needs --socket-path PATH (or --socket PATH) or --fd N", EXIT_USAGE);
}

/** Says why a socket path cannot be used, when the reason is its directory. */
function explainListenError(path: string, err: unknown): CliError {
  const dir = dirname(path);
  let why = (err as Error).message;
  if (!existsSync(dir)) why = `the directory ${dir} does not exist`;
  else if (!statSync(dir).isDirectory()) why = `${dir} is not a directory`;
  return new CliError(`cannot listen on ${path}: ${why}`, EXIT_FAILURE, { cause: err });
}

export async function serveCommand(deviceArg: string, opts: ServeOptions): Promise<number> {
  const where = opts.printCapabilities ? undefined : endpoint(opts);
  const { device, control, source } = await loadDevice(deviceArg, deviceOptions(deviceArg, opts));
  if (where === undefined) {
    console.log(JSON.stringify(backendCapabilities(device), null, 2));
    device.close();
    return EXIT_OK;
  }
  const log = consoleLogger();
  const server = new VfioUserServer(device, {
    logger: log,
    verbose: opts.verbose ?? false,
    dmaRwLayout: opts.dmaLayout ?? "spec",
    dmaFds: opts.dmaFds ?? "map",
    pollUs: opts.pollUs ?? 0,
  });
  const console_ = opts.verbose ? startHostConsole(control, process.stdin, log.info) : undefined;
  const signal = untilSignal();
  let closeListener = () => {};
  try {
    let clientLeft: Promise<string> | undefined;
    if ("path" in where) {
      try {
        server.listen(where.path);
      } catch (err) {
        throw explainListenError(where.path, err);
      }
    } else {
      let inherited: ReturnType<typeof adoptInheritedSocket>;
      try {
        inherited = adoptInheritedSocket(where.fd);
      } catch (err) {
        throw new CliError(
          `cannot serve on --fd ${where.fd}: ${(err as Error).message}`,
          EXIT_FAILURE,
          {
            cause: err,
          },
        );
      }
      if (inherited.kind === "connected") {
        // One client, already there: when it leaves there is nobody left to serve.
        clientLeft = new Promise((resolve) => server.once("disconnect", resolve));
        server.serve(inherited.socket);
      } else {
        const { listener } = inherited;
        listener.onConnection((sock) => server.serve(sock));
        closeListener = () => listener.close();
      }
    }
    log.info(`serving ${source}; Ctrl-C to stop`);
    const stops = [signal.promise.then((sig) => `${sig}: shutting down`)];
    if (clientLeft) stops.push(clientLeft.then(() => "the client left: exiting"));
    log.info(await Promise.race(stops));
    return EXIT_OK; // the finally below closes the server
  } finally {
    console_?.close();
    signal.dispose();
    closeListener();
    await server.close();
    device.close();
    (control as { close?: () => void } | undefined)?.close?.();
  }
}
