import { parseArgs } from "node:util";
import {
  type Logger,
  type PciDevice,
  VfioUserServer,
  type VfioUserServerOptions,
} from "../server/index.js";

/** --verbose prints to stderr (the parent shows it when the server fails). */
const stderrLogger: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
  error: (m) => process.stderr.write(`error: ${m}\n`),
  debug: (m) => process.stderr.write(`${m}\n`),
};

/**
 * The body of a small server entry (serve-edu.js and the bench's): builds the device,
 * listens on `--socket <path>` (busy-polling with `--poll-us N`), and exits cleanly on SIGTERM/SIGINT or when the
 * parent that spawned it goes away (its IPC channel disconnects).
 */
export function runServerMain(build: () => PciDevice, options: VfioUserServerOptions = {}): void {
  const { values } = parseArgs({
    options: {
      socket: { type: "string" },
      verbose: { type: "boolean", default: false },
      "poll-us": { type: "string" },
    },
    strict: false,
  });
  const path = values.socket;
  if (typeof path !== "string" || path === "") {
    process.stderr.write("usage: node <entry> --socket <path> [--verbose] [--poll-us N]\n");
    process.exit(2);
  }
  const device = build();
  const verbose = values.verbose === true;
  const pollUs = values["poll-us"];
  const server = new VfioUserServer(device, {
    ...options,
    ...(typeof pollUs === "string" ? { pollUs: Number(pollUs) } : {}),
    ...(verbose ? { logger: stderrLogger, verbose } : {}),
  });
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    server
      .close()
      .catch((err: unknown) => process.stderr.write(`close failed: ${(err as Error).message}\n`))
      .finally(() => {
        device.close();
        process.exit(code);
      });
  };
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
  process.on("disconnect", () => stop(0));
  try {
    server.listen(path);
  } catch (err) {
    process.stderr.write(`cannot listen on ${path}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
