/**
 * The vfio-user spec's backend program conventions, with real processes: `serve` on an
 * inherited listening or connected socket (--fd, passed through stdio as a management stack
 * would), --socket-path and its alias --socket, --print-capabilities, and a clean SIGTERM.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { VfioUserClient } from "../../src/client/index.js";
import { socketPair } from "../../src/sys/index.js";
import { native } from "../../src/sys/native.js";
import { tempDir, waitFor } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const EDU_VENDOR_DEVICE = 0x11e81234;

function serve(
  args: string[],
  fd3?: number,
): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN, "serve", ...args], {
    stdio: ["ignore", "pipe", "pipe", ...(fd3 === undefined ? [] : [fd3])],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, out: () => out, exit };
}

async function vendorDevice(client: VfioUserClient): Promise<number> {
  const id = await client.device.config.read32(0);
  await client.close();
  return id >>> 0;
}

describe("serve as a vfio-user backend program", { concurrency: true }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("--fd N: serves clients on an inherited listening socket until SIGTERM, and leaves its file", async () => {
    const path = tmp.path("inherited.sock");
    const addon = native();
    const fd = addon.socket();
    addon.bind(fd, path);
    addon.listen(fd, 4);
    const s = serve(["edu", "--fd=3"], fd);
    addon.close(fd); // the child has its own copy now
    await waitFor(() => s.out().includes("serving"), "the server", 20_000);
    for (let i = 0; i < 2; i++) {
      assert.equal(await vendorDevice(await VfioUserClient.connect(path)), EDU_VENDOR_DEVICE);
    }
    s.child.kill("SIGTERM");
    assert.equal(await s.exit, 0, s.out());
    assert.match(s.out(), /SIGTERM: shutting down/);
    assert.ok(existsSync(path), "the socket file belongs to whoever created it");
  });

  it("--fd N: serves the client on an inherited connected socket, and exits when it leaves", async () => {
    const [ours, theirs] = socketPair();
    const s = serve(["edu", "--fd", "3"], theirs.fd);
    theirs.close();
    const client = await VfioUserClient.fromSocket(ours);
    assert.equal(await vendorDevice(client), EDU_VENDOR_DEVICE);
    assert.equal(await s.exit, 0, s.out());
    assert.match(s.out(), /the client left/);
  });

  it("--socket-path=PATH and its alias --socket; SIGTERM removes the socket and exits 0", async () => {
    for (const args of [
      [`--socket-path=${tmp.path("a.sock")}`],
      ["--socket", tmp.path("b.sock")],
    ]) {
      const path = (args.at(-1) as string).replace("--socket-path=", "");
      const s = serve(["edu", ...args]);
      await waitFor(() => existsSync(path) || s.child.exitCode !== null, "the socket", 20_000);
      assert.equal(await vendorDevice(await VfioUserClient.connect(path)), EDU_VENDOR_DEVICE);
      s.child.kill("SIGTERM");
      assert.equal(await s.exit, 0, s.out());
      assert.equal(existsSync(path), false);
    }
  });

  it("--fd with something that is not a socket, or with --socket-path, is a clear error", async () => {
    // stdin is /dev/null ("ignore"); stdout and stderr would not do: Node's pipes are socketpairs.
    const s = serve(["edu", "--fd=0"]);
    assert.equal(await s.exit, 1);
    assert.match(
      s.out(),
      /^vfio-ts: cannot serve on --fd 0: fd 0 is not a UNIX stream socket: it is \/dev\/null$/m,
    );
    const both = serve(["edu", "--fd=3", `--socket-path=${tmp.path("c.sock")}`]);
    assert.equal(await both.exit, 2);
    assert.match(both.out(), /--fd and --socket-path are incompatible/);
    const none = serve(["edu"]);
    assert.equal(await none.exit, 2);
    assert.match(none.out(), /serve needs --socket-path PATH/);
  });

  it("--print-capabilities prints the device and the backend options as JSON", async () => {
    const s = serve(["edu", "--print-capabilities"]);
    assert.equal(await s.exit, 0, s.out());
    const caps = JSON.parse(s.out());
    assert.equal(caps.type, "vfio-user");
    assert.deepEqual(caps.device.vendorId, "0x1234");
    assert.deepEqual(caps.device.deviceId, "0x11e8");
    assert.deepEqual(caps.device.bars, [{ index: 0, size: 1 << 20 }]);
    const names = caps.options.map((o: { name: string }) => o.name);
    assert.ok(names.includes("--socket-path=PATH") && names.includes("--fd=FDNUM"), names.join());
  });

  it("a socket path in a missing directory says the directory is missing", async () => {
    const s = serve(["edu", "--socket-path", tmp.path("nowhere/x.sock")]);
    assert.equal(await s.exit, 1);
    assert.match(
      s.out(),
      /cannot listen on .*nowhere\/x\.sock: the directory .*nowhere does not exist\n$/,
    );
  });
});
