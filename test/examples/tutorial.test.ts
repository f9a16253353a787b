// The README tutorial, run as a user would: the CLI serves examples/counter-device.js in
// one process, examples/counter-driver.js drives it from another, lspci inspects it.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = join(dist, "src", "cli", "main.js");

describe("README tutorial", () => {
  let dir: string;
  let socket: string;
  let server: ChildProcess;
  let serverLog = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vfio-tutorial-"));
    socket = join(dir, "counter.sock");
    server = spawn(
      process.execPath,
      [cli, "serve", join(dist, "examples", "counter-device.js"), "--socket-path", socket],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    server.stdout!.on("data", (d) => (serverLog += d));
    server.stderr!.on("data", (d) => (serverLog += d));
    // The socket file appears only once the server listens (bind, listen, rename).
    const deadline = Date.now() + 10_000;
    while (!existsSync(socket)) {
      if (Date.now() > deadline || server.exitCode !== null) {
        throw new Error(`server did not start: ${serverLog}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  after(() => {
    if (server.exitCode === null) server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("the driver reads the id, gets the MSI-X interrupt and the DMA sum", async () => {
    const { stdout } = await run(process.execPath, [
      join(dist, "examples", "counter-driver.js"),
      socket,
    ]);
    assert.match(stdout, /^id register: 0xc0ffee$/m);
    assert.match(stdout, /^count after adding 5: 5 \(interrupt received\)$/m);
    assert.match(stdout, /^sum computed by the device over DMA: 36$/m);
  });

  it("lspci shows the declared identity, BAR and MSI-X capability", async () => {
    const { stdout } = await run(process.execPath, [cli, "lspci", "--socket", socket, "-v"], {
      timeout: 20_000,
    });
    assert.match(stdout, /Device 0042/);
    assert.match(stdout, /^\tMemory at .* \(32-bit, non-prefetchable\) \[size=4K\]$/m);
    assert.match(stdout, /Capabilities: \[[0-9a-f]+\] MSI-X: Enable- Count=2 Masked-/);
  });

  it("SIGTERM stops the server and removes its socket", async () => {
    const exited = new Promise<number | null>((r) => server.once("exit", (code) => r(code)));
    server.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.equal(existsSync(socket), false);
    assert.match(serverLog, /connected/);
  });
});
