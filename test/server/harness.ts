import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fdCountOf } from "../helpers/fds.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, "..", "fixtures", "test-device.js");

/** The test device running in its own process. */
export interface DeviceProcess {
  readonly pid: number;
  readonly path: string;
  readonly child: ChildProcess;
  /** Open descriptors of the server process right now. */
  fdCount(): number;
  /** Waits until fdCount() equals `n` (cleanup after a disconnect is asynchronous). */
  settleFds(n: number, timeoutMs?: number): Promise<number>;
  /** The descriptor count once it has not changed for `quietMs`. */
  stableFds(quietMs?: number): Promise<number>;
  stderr(): string;
  /** How many times the server's stdout has matched `pattern` (a global RegExp) so far. */
  outputCount(pattern: RegExp): number;
  /** Resolves once the server's stdout has matched `pattern` (global) `count` times. */
  waitOutput(pattern: RegExp, count?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startDevice(args: string[] = []): Promise<DeviceProcess> {
  const dir = mkdtempSync(join(tmpdir(), "vfio-ts-server-"));
  const path = join(dir, "dev.sock");
  const child = spawn(process.execPath, [fixture, path, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  const outputCount = (pattern: RegExp) => out.match(pattern)?.length ?? 0;
  const waitOutput = (pattern: RegExp, count = 1) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (outputCount(pattern) < count) return;
        child.stdout?.off("data", check);
        resolve();
      };
      child.stdout?.on("data", check);
      check();
    });
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", () => {
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (c) => reject(new Error(`test device exited with ${c}: ${err}`)));
  });
  const fdCount = () => fdCountOf(pid);
  return {
    pid,
    path,
    child,
    fdCount,
    async settleFds(n, timeoutMs = 3000) {
      const end = Date.now() + timeoutMs;
      let now = fdCount();
      while (now !== n && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 10));
        now = fdCount();
      }
      return now;
    },
    async stableFds(quietMs = 100) {
      let last = fdCount();
      let since = Date.now();
      while (Date.now() - since < quietMs) {
        await new Promise((r) => setTimeout(r, 10));
        const now = fdCount();
        if (now !== last) {
          last = now;
          since = Date.now();
        }
      }
      return last;
    },
    stderr: () => err,
    outputCount,
    waitOutput,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
