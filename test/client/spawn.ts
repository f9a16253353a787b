/** Starts a server script in its own process and waits for its "ready <pid>" line. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServerProcess {
  readonly path: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process is gone. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** `script` is a compiled file next to the tests (dist/test/...). */
export async function startServer(
  script: URL,
  args: readonly string[] = [],
): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "vfio-client-"));
  const path = join(dir, "sock");
  const child = spawn(process.execPath, [script.pathname, path, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve();
    });
    child.once("exit", (code) =>
      reject(new Error(`${script.pathname} exited with ${code} before it was ready`)),
    );
  });
  return {
    path,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
