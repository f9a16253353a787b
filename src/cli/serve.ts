/**
 * `vfio-ts serve <device> --socket PATH [--verbose] [--poll-us N]`: serves one device, one
 * client after another, until SIGINT/SIGTERM; then closes the server, which
 * removes the socket file.
 */
import type { DmaRwLayout } from "../protocol/index.js";
import { type DmaFdPolicy, type Logger, VfioUserServer } from "../server/index.js";
import { CliError, EXIT_FAILURE, EXIT_OK } from "./cli-error.js";
import { loadDevice } from "./device-loader.js";
import { startHostConsole } from "./host-console.js";
import { untilSignal } from "./signals.js";

export interface ServeOptions {
  readonly socket: string;
  readonly verbose?: boolean;
  /** Layout of our DMA_READ/DMA_WRITE messages: the spec's, or QEMU's 32-bit count. */
  readonly dmaLayout?: DmaRwLayout;
  /** Which DMA fds to mmap (see VfioUserServerOptions.dmaFds). */
  readonly dmaFds?: DmaFdPolicy;
  /** Busy-poll this many µs after each message (see VfioUserServerOptions.pollUs). */
  readonly pollUs?: number;
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

export async function serveCommand(deviceArg: string, opts: ServeOptions): Promise<number> {
  const { device, control, source } = await loadDevice(deviceArg);
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
  try {
    try {
      server.listen(opts.socket);
    } catch (err) {
      throw new CliError(
        `cannot listen on ${opts.socket}: ${(err as Error).message}`,
        EXIT_FAILURE,
        {
          cause: err,
        },
      );
    }
    log.info(`serving ${source}; Ctrl-C to stop`);
    const sig = await signal.promise;
    log.info(`${sig}: shutting down`);
    return EXIT_OK; // the finally below closes the server
  } finally {
    console_?.close();
    signal.dispose();
    await server.close();
    device.close();
  }
}
