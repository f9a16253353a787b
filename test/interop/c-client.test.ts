/**
 * A client that is not ours: the blocking C timer of the benchmarks
 * (bench/c-client/vfio-user-timer.c), built with the system C compiler (the one
 * node-gyp already needs), negotiates and runs config reads and DMA map/unmap pairs
 * against our edu server in another process. It exits non-zero on any error reply,
 * mismatched reply or short body, so a clean run is the assertion; its output is
 * checked too.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildTimer } from "../../bench/c-client/build.js";
import { ServerProcess } from "../../src/harness/index.js";
import { tempDir } from "../cli/helpers.js";

const SERVE = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = promisify(execFile);

/** The timer's output: one JSON line per operation timed. */
function timings(stdout: string): { op: string; n: number; p50Us?: number; opsPerSec?: number }[] {
  return stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

describe("a C vfio-user client against our server", () => {
  const tmp = tempDir();
  const bin = tmp.path("vfio-user-timer");
  let server: ServerProcess;

  before(async () => {
    buildTimer(bin, ["-Wall", "-Werror"]);
    const started = await ServerProcess.start({
      entry: SERVE,
      args: ["serve", "edu"],
      socketPath: tmp.path("edu.sock"),
    });
    server = started.server;
    started.socket.close(); // one client at a time: make room for the C client
  });

  after(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it("negotiates, reads config space and maps/unmaps DMA without one error", async () => {
    const { stdout } = await run(bin, [server.path, "200"], { timeout: 30_000 });
    const lines = timings(stdout);
    assert.deepEqual(
      lines.map((l) => [l.op, l.n]),
      [
        ["config-read32", 200],
        ["dma-map-unmap", 100],
      ],
    );
    for (const l of lines) assert.ok((l.p50Us ?? 0) > 0);
  });

  it("reads a BAR register and posts writes (NO_REPLY) that a fenced read then sees, in order", async () => {
    // The timer exits 1 unless the fence read returns ~(last value written): every
    // posted write was handled, and in order, with no reply to any of them.
    const { stdout } = await run(bin, [server.path, "100", "posted"], { timeout: 30_000 });
    const ops = timings(stdout);
    assert.deepEqual(
      ops.map((l) => [l.op, l.n]),
      [
        ["config-read32", 100],
        ["dma-map-unmap", 50],
        ["bar-read32", 100],
        ["posted-write32", 400],
      ],
    );
    assert.ok((ops[3]!.opsPerSec ?? 0) > 0);
  });

  it("refuses a malformed posted target with its usage", async () => {
    await assert.rejects(run(bin, [server.path, "1", "posted=1:0:inverted"]), (err: unknown) => {
      const e = err as { code: number; stderr: string };
      assert.equal(e.code, 2);
      assert.match(e.stderr, /usage: vfio-user-timer SOCKET ITERATIONS \[posted/);
      return true;
    });
  });

  it("reports a missing socket clearly and exits 1", async () => {
    await assert.rejects(
      run(bin, [tmp.path("nobody.sock"), "1"]),
      (err: Error & { code?: number; stderr?: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr ?? "", /nobody\.sock: No such file or directory/);
        return true;
      },
    );
  });
});
