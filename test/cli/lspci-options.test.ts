/**
 * `vfio-ts lspci` with pciutils' options against a served edu device, in separate
 * processes: -s and -d select as in pciutils (the socket is --socket only), -n/-nn,
 * -D, -k names the serving process, -vv routes the pin to the Interrupt Line's IRQ; and
 * a regular file given as the socket is called one.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir, waitFor } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((r) => child.on("close", (code) => r({ code, stdout, stderr })));
}

// One client at a time (the server answers a second with EBUSY): the cases run in turn.
describe("lspci options as pciutils defines them", () => {
  const tmp = tempDir();
  const sock = tmp.path("edu.sock");
  let server: ChildProcess;

  before(async () => {
    server = spawn(process.execPath, [MAIN, "serve", "edu", "--socket-path", sock], {
      stdio: "ignore",
    });
    await waitFor(() => existsSync(sock) || server.exitCode !== null, "the socket", 20_000);
  });
  after(() => {
    server.kill("SIGTERM");
    tmp.cleanup();
  });

  const lspci = async (...args: string[]) => {
    const r = await run(["lspci", "--socket", sock, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  it("-n and -nn print numbers, and names with numbers", async () => {
    assert.equal(await lspci("-n"), "00:00.0 00ff: 1234:11e8 (rev 10)\n");
    assert.equal(
      await lspci("-nn"),
      "00:00.0 Unclassified device [00ff]: Device [1234:11e8] (rev 10)\n",
    );
  });

  it("-D prints the domain; --slot places the device", async () => {
    assert.match(await lspci("-D"), /^0000:00:00\.0 /);
    assert.match(await lspci("--slot", "0001:02:03.4"), /^0001:02:03\.4 /);
  });

  it("-s and -d select the device, or print nothing, as lspci does", async () => {
    assert.match(await lspci("-s", "00:00.0"), /^00:00\.0 /);
    assert.match(await lspci("-s", ".0"), /^00:00\.0 /);
    assert.equal(await lspci("-s", "01:"), "");
    assert.match(await lspci("-d", "1234:11e8"), /^00:00\.0 /);
    assert.match(await lspci("-d", "::00ff"), /^00:00\.0 /);
    assert.equal(await lspci("-d", "8086:"), "");
  });

  it("-k names the serving process", async () => {
    const out = await lspci("-k");
    assert.match(out, /\n\tKernel driver in use: vfio-user\n/);
    assert.match(out, new RegExp(`\\n\\tServed by: pid ${server.pid} \\(.*serve edu`));
  });

  it("-vv prints the pin routed to the IRQ of the Interrupt Line register", async () => {
    assert.match(await lspci("-vv"), /\n\tInterrupt: pin A routed to IRQ 0\n/);
  });

  it("a regular file is not a socket", async () => {
    const file = tmp.path("regular");
    writeFileSync(file, "");
    const r = await run(["lspci", "--socket", file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `vfio-ts: ${file} is not a socket but a regular file\n`);
  });
});
