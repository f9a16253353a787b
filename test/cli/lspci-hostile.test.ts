/**
 * `vfio-ts lspci` against servers that lie, loop or never answer: one clear sentence,
 * exit status 1, no hang and no stack trace.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startServer } from "../client/spawn.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const MINI = new URL("../client/mini-server.js", import.meta.url);

function lspci(path: string, ...args: string[]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, "lspci", "--socket", path, ...args], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

function assertOneSentence(r: ReturnType<typeof lspci>, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit status (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

const cases: [mode: string, pattern: RegExp][] = [
  ["--silent", /^vfio-ts: no answer from .*/],
  ["--huge-regions", /num_regions 100000/],
  ["--huge-region-size", /BAR0.*size|size.*BAR0|region 0/i],
];

describe("vfio-ts lspci against hostile servers", () => {
  for (const [mode, pattern] of cases) {
    describe(mode, () => {
      let server: Awaited<ReturnType<typeof startServer>>;
      before(async () => {
        server = await startServer(MINI, [mode]);
      });
      after(async () => {
        await server.stop();
      });
      it("fails with one sentence", () => {
        assertOneSentence(lspci(server.path), pattern);
      });
    });
  }

  describe("--loop-caps", () => {
    let server: Awaited<ReturnType<typeof startServer>>;
    before(async () => {
      server = await startServer(MINI, ["--loop-caps"]);
    });
    after(async () => {
      await server.stop();
    });
    it("prints the device and says the capability list loops, instead of walking forever", () => {
      const r = lspci(server.path, "-v");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Device 1234:5678/);
      assert.match(r.stdout, /!!! .*(loop|visited|cycle)/i);
    });
  });

  describe("--stray-fds", () => {
    let server: Awaited<ReturnType<typeof startServer>>;
    before(async () => {
      server = await startServer(MINI, ["--stray-fds"]);
    });
    after(async () => {
      await server.stop();
    });
    it("refuses a reply that brings fds it should not, in one sentence", () => {
      assertOneSentence(lspci(server.path), /REGION_READ reply: 1 unexpected file descriptor/);
    });
  });
});
