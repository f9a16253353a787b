import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  demoSucceeded,
  factorial32,
  formatDemoReport,
  runDemo,
  runLoopbackDemo,
} from "../../src/harness/edu-demo.js";

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

describe("runDemo", () => {
  it("drives an edu server in another process and reports what happened", async () => {
    const lines: string[] = [];
    const r = await runDemo({ latencyIterations: 200, log: (l) => lines.push(l) });
    assert.notEqual(r.serverPid, process.pid);
    assert.equal(r.identity.vendorId, 0x1234);
    assert.equal(r.identity.deviceId, 0x11e8);
    assert.equal(r.irqMode, "msi");
    assert.equal(r.liveness, true);
    assert.deepEqual(
      r.factorials.map((f) => f.n),
      Array.from({ length: 13 }, (_, i) => i),
    );
    for (const f of r.factorials) {
      assert.equal(f.value, f.expected, `${f.n}!`);
      assert.equal(f.expected, factorial32(f.n));
    }
    assert.equal(r.factorials[12]!.value, 479001600);
    assert.deepEqual(
      r.dma.map((d) => d.path),
      ["fd", "message"],
    );
    for (const d of r.dma) {
      assert.equal(d.bytes, 4096);
      assert.equal(d.ok, true);
      assert.equal(d.returnedCrc32, d.sentCrc32);
    }
    assert.equal(r.interrupts.factorial, 13);
    assert.equal(r.interrupts.dma, 4);
    assert.ok(r.interrupts.wakeups > 0);
    assert.equal(r.barReadLatency.iterations, 200);
    assert.ok(r.barReadLatency.p50Us > 0 && r.barReadLatency.p99Us >= r.barReadLatency.p50Us);
    assert.ok(lines.some((l) => l.includes("liveness: ok")));

    const text = formatDemoReport(r);
    assert.match(text, /1234:11e8/);
    assert.match(text, /all correct/);
    assert.match(text, /12!=479001600/);
    assert.doesNotMatch(text, /MISMATCH|WRONG|FAILED/);

    assert.equal(existsSync(r.socketPath!), false, "socket file removed");
    assert.equal(processGone(r.serverPid!), true, "server process reaped");
  });

  it("honours options: INTx, a chosen socket path, other factorials and DMA size", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edu-demo-test-"));
    try {
      const socketPath = join(dir, "edu.sock");
      const r = await runDemo({
        socketPath,
        irqMode: "intx",
        factorials: [5, 20],
        dmaBytes: 100,
        latencyIterations: 10,
      });
      assert.equal(r.socketPath, socketPath);
      assert.equal(r.irqMode, "intx");
      assert.deepEqual(
        r.factorials.map((f) => [f.n, f.value]),
        [
          [5, 120],
          [20, factorial32(20)],
        ],
      );
      assert.ok(r.dma.every((d) => d.bytes === 100 && d.ok));
      assert.equal(r.interrupts.factorial, 2);
      assert.equal(existsSync(socketPath), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("cleans up the server when the run fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edu-demo-test-"));
    try {
      const socketPath = join(dir, "edu.sock");
      await assert.rejects(runDemo({ socketPath, dmaBytes: 5000 }), /1\.\.4096/);
      assert.equal(existsSync(socketPath), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("runLoopbackDemo", () => {
  it("runs the same driver on the edu model in this process, both DMA paths included", async () => {
    const r = await runLoopbackDemo({ latencyIterations: 50 });
    assert.equal(r.backend, "loopback");
    assert.equal(demoSucceeded(r), true, formatDemoReport(r));
    assert.deepEqual(
      r.dma.map((d) => d.path),
      ["fd", "message"],
    );
    assert.equal(r.serverPid, undefined, "no second process");
    assert.match(formatDemoReport(r), /over loopback \(in-process loopback\)/);
  });
});
