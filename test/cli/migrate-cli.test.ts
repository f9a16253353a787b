/**
 * `vfio-ts migrate` as a user runs it: two `vfio-ts serve edu` processes, a client
 * that leaves state on the first, the migration, and a later client that finds the
 * state on the second. And the failures: no server, another kind of device.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { MigrationState, VfioUserClient } from "../../src/client/index.js";
import { tempDir, waitFor } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const REG_LIVENESS = 0x04;
const REG_FACTORIAL = 0x08;
const REG_STATUS = 0x20;

function vfioTs(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function serve(device: string, sock: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, "serve", device, "--socket-path", sock], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  await waitFor(() => out.includes("serving"), `the ${device} server`, 20_000);
  return child;
}

describe("vfio-ts migrate", () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) c.kill("SIGTERM");
    tmp.cleanup();
  });

  it("moves edu's state from one server process to another and reports it", async () => {
    const s1 = tmp.path("s1.sock");
    const s2 = tmp.path("s2.sock");
    children.push(await serve("edu", s1), await serve("edu", s2));
    const a = await VfioUserClient.connect(s1);
    await a.device.config.updateCommand(0x2, 0);
    await a.device.write32(0, REG_LIVENESS, 0x0f0f0f0f);
    await a.device.write32(0, REG_FACTORIAL, 6);
    while ((await a.device.read32(0, REG_STATUS)) & 1) await new Promise((r) => setTimeout(r, 5));
    await a.close();

    const r = vfioTs("migrate", "--from", s1, "--to", s2, "--json");
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { bytes: number; downtimeMs: number; rounds: number };
    assert.ok(report.bytes > 4096, `${report.bytes} bytes (edu's buffer alone is 4 KiB)`);
    assert.ok(report.downtimeMs >= 0);
    assert.equal(report.rounds, 0);

    const b = await VfioUserClient.connect(s2);
    try {
      assert.equal(await b.device.read32(0, REG_LIVENESS), ~0x0f0f0f0f >>> 0);
      assert.equal(await b.device.read32(0, REG_FACTORIAL), 720);
      assert.equal(await b.device.migration.state(), MigrationState.RUNNING);
    } finally {
      await b.close();
    }
    const left = await VfioUserClient.connect(s1);
    try {
      assert.equal(await left.device.migration.state(), MigrationState.STOP);
    } finally {
      await left.close();
    }
    const text = vfioTs("migrate", "--from", s2, "--to", s1);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^migrated .* -> .*: \d+ bytes, downtime [\d.]+ ms, total [\d.]+ ms\n$/,
    );
  });

  it("refuses a destination of another kind and puts the source back to work", async () => {
    const edu = tmp.path("edu.sock");
    const gpio = tmp.path("gpio.sock");
    children.push(await serve("edu", edu), await serve("gpio", gpio));
    const r = vfioTs("migrate", "--from", edu, "--to", gpio);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^vfio-ts: migration from .* failed: .* is 1234:11e8 .* and .* is 494f:0dc8 .*: not the same device\n$/,
    );
    const c = await VfioUserClient.connect(edu);
    try {
      assert.equal(await c.device.migration.state(), MigrationState.RUNNING);
    } finally {
      await c.close();
    }
  });

  it("says so in one line when there is no server", () => {
    const r = vfioTs("migrate", "--from", tmp.path("none.sock"), "--to", tmp.path("none2.sock"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^vfio-ts: no vfio-user server at .*none\.sock \(no such socket\)\n$/);
  });
});
