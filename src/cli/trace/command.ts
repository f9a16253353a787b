/**
 * `vfio-ts trace --listen PATH --connect PATH [--json] [--once]`: runs the proxy
 * until SIGINT/SIGTERM (or, with --once, until the first client has left) and
 * prints one line per forwarded message.
 */
import { CliError, EXIT_FAILURE, EXIT_OK } from "../cli-error.js";
import { untilSignal } from "../signals.js";
import { formatEventJson, formatEventText, formatRecordJson, formatRecordText } from "./format.js";
import { TraceProxy } from "./proxy.js";

export interface TraceCommandOptions {
  readonly listen: string;
  readonly connect: string;
  readonly json?: boolean;
  readonly once?: boolean;
}

export async function traceCommand(opts: TraceCommandOptions): Promise<number> {
  const json = opts.json ?? false;
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let firstClosed: () => void = () => {};
  const onceDone = new Promise<void>((resolve) => {
    firstClosed = resolve;
  });
  let proxy: TraceProxy;
  try {
    proxy = TraceProxy.listen({
      listen: opts.listen,
      connect: opts.connect,
      onRecord: (rec) => out(json ? formatRecordJson(rec) : formatRecordText(rec)),
      onEvent: (ev) => {
        out(json ? formatEventJson(ev) : formatEventText(ev));
        if (ev.kind === "close" || (ev.kind === "error" && ev.message.startsWith("cannot reach"))) {
          firstClosed();
        }
      },
    });
  } catch (err) {
    throw new CliError(`cannot listen on ${opts.listen}: ${(err as Error).message}`, EXIT_FAILURE, {
      cause: err,
    });
  }
  if (!json) out(`tracing ${opts.listen} -> ${opts.connect}; Ctrl-C to stop`);
  const signal = untilSignal();
  try {
    await (opts.once ? Promise.race([signal.promise, onceDone]) : signal.promise);
    return EXIT_OK;
  } finally {
    signal.dispose();
    await proxy.close();
  }
}
