import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VfioError } from "../errors.js";
import { connectUnixRetry, isErrno, type UnixSocket } from "../sys/index.js";

export interface ServerProcessOptions {
  /** The JS entry to run with node; it gets `--socket <path>` after `args`. */
  entry: string;
  args?: readonly string[];
  /** Where to listen; default `<fresh temp dir>/vfio.sock` (the dir is removed on stop). */
  socketPath?: string;
  /** Options for node itself, e.g. ["--cpu-prof"]. */
  nodeArgs?: readonly string[];
  /** How long the server may take to accept a connection; default 10000 ms. */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Most stderr kept for error messages. */
const STDERR_KEEP = 8192;

/**
 * A vfio-user server running in a child process on a UNIX socket: spawned, waited
 * for (connect with retry, which is also the first client connection), and stopped
 * with its socket file and temp dir removed. The child has an IPC channel only so it
 * notices when we die and exits instead of lingering.
 */
export class ServerProcess {
  readonly path: string;
  readonly child: ChildProcess;
  readonly #tempDir: string | undefined;
  readonly #exited: Promise<number | string | null>;
  #stderr = "";
  #exit: number | string | null | undefined;
  #stopping: Promise<void> | null = null;

  /** Starts the server and returns it with a socket connected to it. */
  static async start(
    options: ServerProcessOptions,
  ): Promise<{ server: ServerProcess; socket: UnixSocket }> {
    const tempDir =
      options.socketPath === undefined ? mkdtempSync(join(tmpdir(), "vfio-ts-")) : undefined;
    const path = options.socketPath ?? join(tempDir!, "vfio.sock");
    const child = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), options.entry, ...(options.args ?? []), "--socket", path],
      { stdio: ["ignore", "ignore", "pipe", "ipc"], env: options.env ?? process.env },
    );
    const server = new ServerProcess(path, child, tempDir);
    try {
      const socket = await server.#connectFirst(options.startTimeoutMs ?? 10_000);
      return { server, socket };
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  private constructor(path: string, child: ChildProcess, tempDir: string | undefined) {
    this.path = path;
    this.child = child;
    this.#tempDir = tempDir;
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-STDERR_KEEP);
    });
    // Our IPC end must not keep this process alive; the child watches it for our exit.
    child.channel?.unref();
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exit = signal ?? code;
        resolve(this.#exit);
      });
      child.once("error", (err) => {
        this.#stderr += `\nspawn failed: ${err.message}`;
        this.#exit = "spawn-error";
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True once the child has exited. */
  get exited(): boolean {
    return this.#exit !== undefined;
  }

  /** The tail of the child's stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Another connection (the server serves one client at a time). */
  connect(timeoutMs = 5000): Promise<UnixSocket> {
    return connectUnixRetry(this.path, { timeoutMs });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; removes the socket file and temp dir. Idempotent. */
  stop(graceMs = 3000): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    try {
      if (!this.exited && this.child.pid !== undefined) {
        this.child.kill("SIGTERM");
        const timer = setTimeout(() => {
          if (!this.exited) this.child.kill("SIGKILL");
        }, graceMs);
        await this.#exited;
        clearTimeout(timer);
      }
    } finally {
      this.child.channel?.unref();
      this.child.stderr?.destroy();
      // Gone already after a clean exit (the listener removes it); not after SIGKILL.
      rmSync(this.path, { force: true });
      if (this.#tempDir !== undefined) rmSync(this.#tempDir, { recursive: true, force: true });
    }
  }

  async #connectFirst(timeoutMs: number): Promise<UnixSocket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) {
        throw new VfioError(
          "ECONNREFUSED",
          `the server process exited (${String(this.#exit)}) before accepting a connection` +
            (this.#stderr ? `:\n${this.#stderr.trim()}` : ""),
        );
      }
      try {
        // Short slices, so a child that dies during startup is noticed quickly.
        return await connectUnixRetry(this.path, {
          timeoutMs: Math.min(100, Math.max(0, deadline - Date.now())),
        });
      } catch (err) {
        if (Date.now() >= deadline) {
          throw new VfioError(
            "ETIMEDOUT",
            `the server at ${this.path} did not accept a connection within ${timeoutMs} ms: ${(err as Error).message}`,
            { cause: err },
          );
        }
        if (!isErrno(err, "ENOENT") && !isErrno(err, "ECONNREFUSED") && !isErrno(err, "EAGAIN"))
          throw err;
      }
    }
  }
}
