/**
 * `vfio-ts nvme` as a user runs it, where no NVMe controller is needed: usage
 * errors, a missing server, and a vfio-user device that is not an NVMe controller,
 * each one sentence with its exit code. The driver itself is tested against QEMU's
 * nvme in test/kernel/guest/nvme.guest.ts.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir, waitFor } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function vfioTs(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertOneSentence(r: ReturnType<typeof vfioTs>, pattern: RegExp, code: number): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe("vfio-ts nvme", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("says in its help that --socket needs an NVMe server", () => {
    const r = vfioTs("nvme", "identify", "--help");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--socket <path>.*this needs an NVMe server/s);
    assert.match(r.stdout, /--device <bdf>/);
    assert.match(vfioTs("nvme", "--help").stdout, /identify[\s\S]*read[\s\S]*write/);
  });

  it("needs exactly one of --socket and --device, and write needs its data", () => {
    assertOneSentence(
      vfioTs("nvme", "identify"),
      /exactly one of --socket PATH and --device BDF/,
      2,
    );
    assertOneSentence(
      vfioTs("nvme", "write", "--socket", "x", "--lba", "0"),
      /exactly one of --input FILE and --pattern BYTE/,
      2,
    );
    assert.equal(vfioTs("nvme", "read", "--socket", "x", "--lba", "-1").code, 2);
  });

  it("says there is no server at a missing socket", () => {
    const path = tmp.path("none.sock");
    assertOneSentence(vfioTs("nvme", "identify", "--socket", path), /no vfio-user server at/, 1);
  });

  it("refuses a device that is not an NVMe controller, naming its class", async () => {
    const sock = tmp.path("edu.sock");
    const server = spawn(process.execPath, [MAIN, "serve", "edu", "--socket", sock], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    server.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    server.stderr!.resume();
    try {
      await waitFor(() => out.includes("listening"), "the edu server to listen", 20_000);
      const r = vfioTs("nvme", "identify", "--socket", sock);
      assertOneSentence(r, /is not an NVMe controller \(class 0x00ff00, expected 0x010802\)/, 1);
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("close", r));
    }
  });
});
