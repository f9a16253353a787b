/**
 * `npm run bench`: vfio-ts round trips, interrupts and DMA against an edu server in
 * another process, next to a raw socket ping-pong baseline. Prints a table and writes
 * bench/results/<timestamp>.json. Measures only; nothing here asserts a timing.
 *
 * Environment:
 *   BENCH_ONLY=a,b        run only cases whose name contains one of these
 *                         (baseline-pingpong[-end], c-client, node-polled, poll-cpu, peer-compare,
 *                          config-read32, bar0-read32, bar0-write32,
 *                          bar0-posted-write, dma-map-unmap, irq-latency, edu-ops, dma-fd, dma-msg,
 *                          nvme: our NVMe driver against our NVMe model, QD1/QD32 4 KiB)
 *   BENCH_SCALE=0.1       multiply iteration counts
 *   BENCH_POLL_US=100     busy-polling time of the polled rows (c-client, node-polled,
 *                         poll-cpu); 0 leaves them out
 *   BENCH_IRQ=intx        use INTx instead of MSI
 *   BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof"   node options for the server process
 *   BENCH_PEER_SOCKET=/path   also compare with another vfio-user server there (e.g. a C
 *                         server), same client, in turns: see cases-peer.ts (BENCH_PEER_CMD,
 *                         BENCH_ROUNDS) and cases-c-client.ts (BENCH_PEER_POSTED=1:0:plain:
 *                         time the peer's posted writes at region 1, offset 0)
 *   BENCH_CPUS=0,1        pin this (client) process to CPU 0 and the server to CPU 1 (with
 *                         taskset, all threads): on a small VM, keeps the scheduler from
 *                         stacking both ends on one CPU. For BENCH_PEER_CMD, prefix
 *                         "taskset -c 1" yourself.
 * Profile the driver side with: node --cpu-prof dist/bench/run.js
 */
import { fileURLToPath } from "node:url";
import { Container, IommuOwner, VfioUserClient } from "../src/client/index.js";
import { EduDriver, type EduIrqMode } from "../src/drivers/index.js";
import { ServerProcess } from "../src/harness/index.js";
import { socketBaseline, socketBaselineEnd } from "./baseline.js";
import { cClient } from "./cases-c-client.js";
import { dmaCases } from "./cases-dma.js";
import { nvmeBench } from "./cases-nvme.js";
import { peerComparison } from "./cases-peer.js";
import { nodePolled, pollCpu } from "./cases-polled.js";
import { roundTripCases } from "./cases-rt.js";
import { pinClient, pinServer } from "./pinning.js";
import { formatTable, writeJson } from "./report.js";
import { type BenchCase, type BenchContext, type BenchResult, benchScale } from "./types.js";

const SERVE_BENCH = fileURLToPath(new URL("./serve-bench.js", import.meta.url));
/** dist/bench/run.js -> <repo>/bench/results */
const RESULTS_DIR = fileURLToPath(new URL("../../bench/results/", import.meta.url));

const ALL: readonly BenchCase[] = [
  socketBaseline,
  cClient,
  nodePolled,
  pollCpu,
  ...roundTripCases,
  peerComparison,
  ...dmaCases,
  nvmeBench,
  socketBaselineEnd,
];

function selected(): BenchCase[] {
  const only = process.env.BENCH_ONLY?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!only || only.length === 0) return [...ALL];
  const picked = ALL.filter((c) => only.some((o) => c.name.includes(o)));
  if (picked.length === 0) {
    throw new Error(
      `BENCH_ONLY=${process.env.BENCH_ONLY} matches none of: ${ALL.map((c) => c.name).join(", ")}`,
    );
  }
  return picked;
}

async function withVfio<T>(fn: (ctx: BenchContext) => Promise<T>): Promise<T> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const { server, socket } = await ServerProcess.start({ entry: SERVE_BENCH, nodeArgs });
  pinServer(server.pid);
  try {
    const client = await VfioUserClient.fromSocket(socket, { name: "edu-bench" });
    // A private owner: the bench maps more than a default RLIMIT_MEMLOCK allows.
    const container = new Container({ owner: new IommuOwner({ memlockLimit: "infinity" }) });
    try {
      const irqMode = (process.env.BENCH_IRQ ?? "auto") as EduIrqMode;
      const driver = await EduDriver.open(client.device, { container, irqMode, timeoutMs: 10_000 });
      try {
        return await fn({ client, handle: client.device, driver, container, scale: benchScale() });
      } finally {
        await driver.close();
      }
    } finally {
      await container.close();
      await client.close();
    }
  } finally {
    socket.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const cases = selected();
  pinClient();
  const results: BenchResult[] = [];
  const started = Date.now();
  const runCase = async (c: BenchCase, ctx: BenchContext | null) => {
    process.stderr.write(`bench: ${c.name} ...`);
    const t0 = Date.now();
    try {
      results.push(...(await c.run(ctx)));
      process.stderr.write(` ${Date.now() - t0} ms\n`);
    } catch (err) {
      process.stderr.write(` failed: ${(err as Error).message}\n`);
      results.push({
        name: c.name,
        title: c.name,
        iterations: 0,
        note: `failed: ${(err as Error).message}`,
      });
    }
  };
  for (const c of cases.filter((c) => c.needs === "none" && c !== socketBaselineEnd)) {
    await runCase(c, null);
  }
  const vfio = cases.filter((c) => c.needs === "vfio");
  if (vfio.length > 0) {
    await withVfio(async (ctx) => {
      for (const c of vfio) await runCase(c, ctx);
    });
  }
  if (cases.includes(socketBaselineEnd)) await runCase(socketBaselineEnd, null);
  console.log(formatTable(results));
  const path = writeJson(RESULTS_DIR, results, {
    scale: benchScale(),
    only: process.env.BENCH_ONLY ?? null,
    durationMs: Date.now() - started,
  });
  console.log(
    `\n${results.length} results in ${((Date.now() - started) / 1000).toFixed(1)} s; written to ${path}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
