/**
 * `vfio-ts nvme` as a user runs it, where no NVMe controller is needed: usage
 * errors, a missing server, and a vfio-user device that is not an NVMe controller,
 * each one sentence with its exit code; and the whole path through `vfio-ts serve
 * nvme` with a backing file. The driver is also tested against QEMU's nvme in
 * test/kernel/guest/nvme.guest.ts.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
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

  it("writes, reads and identifies through `vfio-ts serve nvme --backing FILE`", async () => {
    const image = tmp.path("disk.img");
    writeFileSync(image, "");
    const sock = tmp.path("nvme.sock");
    const server = spawn(
      process.execPath,
      [MAIN, "serve", "nvme", "--socket-path", sock, "--backing", image, "--size", "4M"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    server.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    try {
      await waitFor(() => out.includes("serving"), "the nvme server", 20_000);
      const w = vfioTs(
        "nvme",
        "write",
        "--socket",
        sock,
        "--lba",
        "3",
        "--pattern",
        "171",
        "--count",
        "2",
      );
      assert.equal(w.code, 0, w.stderr);
      const bytes = readFileSync(image);
      assert.equal(bytes.length, 4 << 20, "--size grew the file");
      assert.ok(
        bytes.subarray(3 * 512, 5 * 512).every((b) => b === 171),
        "blocks 3-4 in the file",
      );
      assert.ok(bytes.subarray(5 * 512, 6 * 512).every((b) => b === 0));
      const r = vfioTs("nvme", "read", "--socket", sock, "--lba", "3", "-o", tmp.path("out"));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(readFileSync(tmp.path("out")).every((b) => b === 171));
      const id = vfioTs("nvme", "identify", "--socket", sock);
      assert.equal(id.code, 0, id.stderr);
      assert.match(id.stdout, /model\s+vfio-ts NVMe/);
      assert.match(id.stdout, /namespace 1: 8192 blocks of 512 bytes/);
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
  });

  it("refuses --backing for devices other than nvme", () => {
    const r = vfioTs("serve", "edu", "--socket-path", tmp.path("x.sock"), "--size", "1M");
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--backing, --size and --block-size are for nvme/);
  });

  it("says in its help where an NVMe server for --socket comes from", () => {
    const r = vfioTs("nvme", "identify", "--help");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--socket <path>.*vfio-ts serve\s+nvme/s);
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
