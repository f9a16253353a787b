/** Shared helper of the examples tests (not a test file itself). */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tempDir, waitFor } from "../cli/helpers.js";

const run = promisify(execFile);
/** dist/, where the compiled examples and CLI are. */
export const DIST = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = join(DIST, "src", "cli", "main.js");

export interface ServedExample {
  readonly socket: string;
  /** What the server printed so far. */
  log(): string;
  /** Runs `node <script> <socket>` to its end in another process; resolves to its stdout. */
  drive(script: string): Promise<string>;
  /** SIGTERM; resolves to the exit code and whether the server removed its socket file. */
  stop(): Promise<{ code: number | null; socketRemoved: boolean }>;
}

/**
 * Serves `device` (a compiled module) as the README does, with `vfio-ts serve` in a child
 * process on a socket in a fresh temp dir, and waits until it listens.
 */
export async function serveExample(device: string): Promise<ServedExample> {
  const tmp = tempDir();
  const socket = tmp.path("device.sock");
  const server = spawn(process.execPath, [CLI, "serve", device, "--socket-path", socket], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((r) => server.once("exit", (code) => r(code)));
  // The socket file appears only once the server listens (bind, listen, rename).
  try {
    await waitFor(() => existsSync(socket) || server.exitCode !== null, "the socket", 20_000);
    if (server.exitCode !== null) throw new Error(`the server exited: ${log}`);
  } catch (err) {
    server.kill("SIGKILL");
    tmp.cleanup();
    throw err;
  }
  return {
    socket,
    log: () => log,
    drive: async (script) =>
      (await run(process.execPath, [script, socket], { timeout: 60_000 })).stdout,
    stop: async () => {
      if (server.exitCode === null) server.kill("SIGTERM");
      const code = await exited;
      const socketRemoved = !existsSync(socket);
      tmp.cleanup();
      return { code, socketRemoved };
    },
  };
}
