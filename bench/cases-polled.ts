/**
 * Busy polling (pollUs) from the Node client's side, and what it costs in CPU.
 *
 * node-polled: the same client code against two edu servers of ours, one default and
 * one started with --poll-us BENCH_POLL_US (its client polling as long), in turns for
 * BENCH_ROUNDS rounds: config read and DMA pair p50/p99, posted writes per second.
 *
 * poll-cpu: the server's CPU use from /proc/<pid>/stat, default and polled: idle for
 * 2 s with a client connected, and under light traffic (one config read per ms for 2 s).
 */
import { fileURLToPath } from "node:url";
import { Container, IommuOwner, VfioUserClient } from "../src/client/index.js";
import { eduRegs, freeIova, measureLatency } from "../src/drivers/index.js";
import { ServerProcess } from "../src/harness/index.js";
import { cpuSeconds } from "./cpu-time.js";
import { benchRounds, median } from "./peer.js";
import { pinServer } from "./pinning.js";
import { benchPollUs } from "./poll-us.js";
import { type BenchCase, type BenchResult, iters } from "./types.js";

const SERVE_BENCH = fileURLToPath(new URL("./serve-bench.js", import.meta.url));
const BAR = eduRegs.EDU_BAR;

interface Rig {
  readonly pollUs: number;
  readonly pid: number;
  readonly client: VfioUserClient;
  readonly container: Container;
  close(): Promise<void>;
}

/** An edu server of ours (busy-polling pollUs µs) and a client polling as long. */
async function rig(pollUs: number): Promise<Rig> {
  const { server, socket } = await ServerProcess.start({
    entry: SERVE_BENCH,
    args: pollUs > 0 ? ["--poll-us", String(pollUs)] : [],
  });
  pinServer(server.pid);
  try {
    const client = await VfioUserClient.fromSocket(socket, { name: "bench", pollUs });
    const container = new Container({ owner: new IommuOwner({ memlockLimit: "infinity" }) });
    await container.attach(client.device);
    return {
      pollUs,
      pid: server.pid,
      client,
      container,
      close: async () => {
        await container.close();
        await client.close();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function rigs(): Promise<Rig[]> {
  const pollUs = benchPollUs();
  const out = [await rig(0)];
  if (pollUs > 0) out.push(await rig(pollUs));
  return out;
}

const modeOf = (r: Rig) => (r.pollUs > 0 ? `pollUs ${r.pollUs} both ends` : "default");

interface Figures {
  read50: number[];
  read99: number[];
  dma50: number[];
  dma99: number[];
  posted: number[];
}

async function timeRound(r: Rig, n: number, f: Figures): Promise<void> {
  const h = r.client.device;
  const read = () => h.config.read32(0);
  await measureLatency(Math.max(2000, n), read);
  const s = await measureLatency(n, read);
  f.read50.push(s.p50Us);
  f.read99.push(s.p99Us);
  const mem = new Uint8Array(4096);
  const iova = freeIova(r.container, 4096n);
  const pair = async () => {
    const m = await r.container.mapMemory(iova, mem, "rw");
    await m.unmap();
  };
  await measureLatency(Math.max(1000, n >> 1), pair);
  const d = await measureLatency(n >> 1, pair);
  f.dma50.push(d.p50Us);
  f.dma99.push(d.p99Us);
  const posted = n * 4;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < posted; i++) await h.writePosted32(BAR, eduRegs.REG_LIVENESS, i);
  await h.read32(BAR, eduRegs.REG_LIVENESS);
  f.posted.push((posted * 1e9) / Number(process.hrtime.bigint() - t0));
}

export const nodePolled: BenchCase = {
  name: "node-polled",
  needs: "none",
  run: async (ctx) => {
    const all = await rigs();
    try {
      const n = iters(ctx, 2000);
      const rounds = benchRounds();
      const figs = all.map(
        (): Figures => ({ read50: [], read99: [], dma50: [], dma99: [], posted: [] }),
      );
      for (let round = 0; round < rounds; round++) {
        for (const [i, r] of all.entries()) await timeRound(r, n, figs[i]!);
      }
      return all.flatMap((r, i): BenchResult[] => {
        const f = figs[i]!;
        const tag = `node-${r.pollUs > 0 ? "polled" : "default"}`;
        const how = `Node client, ${modeOf(r)} (median of ${rounds} rounds)`;
        return [
          {
            name: `${tag}-config-read32`,
            title: `${how}: config 4-byte read`,
            iterations: n * rounds,
            p50Us: median(f.read50),
            p99Us: median(f.read99),
          },
          {
            name: `${tag}-dma-map-unmap`,
            title: `${how}: DMA_MAP + DMA_UNMAP pair`,
            iterations: (n >> 1) * rounds,
            p50Us: median(f.dma50),
            p99Us: median(f.dma99),
          },
          {
            name: `${tag}-posted-write`,
            title: `${how}: BAR0 posted 4-byte writes + 1 fence`,
            iterations: n * 4 * rounds,
            opsPerSec: median(f.posted),
          },
        ];
      });
    } finally {
      for (const r of all) await r.close();
    }
  },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const pollCpu: BenchCase = {
  name: "poll-cpu",
  needs: "none",
  run: async () => {
    const all = await rigs();
    try {
      const out: BenchResult[] = [];
      for (const r of all) {
        const h = r.client.device;
        for (let i = 0; i < 2000; i++) await h.config.read32(0); // then fall idle
        await sleep(100);
        let c0 = cpuSeconds(r.pid);
        let t0 = performance.now();
        await sleep(2000);
        const idle = (cpuSeconds(r.pid) - c0) / ((performance.now() - t0) / 1000);
        out.push({
          name: `poll-cpu-idle-${r.pollUs}`,
          title: `server CPU while idle, client connected, ${modeOf(r)}`,
          iterations: 0,
          note: `${(idle * 100).toFixed(1)}% of a CPU`,
        });
        c0 = cpuSeconds(r.pid);
        t0 = performance.now();
        let sent = 0;
        while (performance.now() - t0 < 2000) {
          await h.config.read32(0);
          sent++;
          await sleep(1);
        }
        const secs = (performance.now() - t0) / 1000;
        const busy = (cpuSeconds(r.pid) - c0) / secs;
        out.push({
          name: `poll-cpu-light-${r.pollUs}`,
          title: `server CPU, one config read per ms, ${modeOf(r)}`,
          iterations: sent,
          opsPerSec: sent / secs,
          note: `${(busy * 100).toFixed(1)}% of a CPU`,
        });
      }
      return out;
    } finally {
      for (const r of all) await r.close();
    }
  },
};
