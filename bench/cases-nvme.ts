/**
 * NVMe: our driver (src/drivers/nvme) against our controller model (serve-nvme,
 * memory-backed) in another process, over vfio-user with MSI-X completions. 4 KiB
 * random reads at queue depth 1 (latency) and 32 (IOPS), and QD32 random writes.
 */
import { fileURLToPath } from "node:url";
import { Container, IommuOwner, VfioUserClient } from "../src/client/index.js";
import { summarizeLatency } from "../src/drivers/index.js";
import { NvmeDriver } from "../src/drivers/nvme/index.js";
import { ServerProcess } from "../src/harness/index.js";
import { pinServer } from "./pinning.js";
import type { BenchCase, BenchResult } from "./types.js";
import { iters } from "./types.js";

const SERVE_NVME = fileURLToPath(new URL("../src/harness/serve-nvme.js", import.meta.url));
const BLOCKS_4K = 8; // 512-byte blocks per 4 KiB
const SPAN = 64 * 1024 * 1024; // the namespace: 64 MiB

/** Doorbell writes (posted messages) the driver sent, counted at the device handle. */
interface Doorbells {
  count: number;
}

async function withNvme<T>(fn: (d: NvmeDriver, bells: Doorbells) => Promise<T>): Promise<T> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const { server, socket } = await ServerProcess.start({
    entry: SERVE_NVME,
    nodeArgs,
    args: ["--size", String(SPAN)],
  });
  pinServer(server.pid);
  try {
    const client = await VfioUserClient.fromSocket(socket, { name: "nvme-bench" });
    // Every doorbell is one posted REGION_WRITE; data moves through the mapped buffers.
    const bells: Doorbells = { count: 0 };
    const posted = client.device.writePosted32.bind(client.device);
    client.device.writePosted32 = (index, offset, v) => {
      bells.count++;
      return posted(index, offset, v);
    };
    const container = new Container({ owner: new IommuOwner({ memlockLimit: "infinity" }) });
    try {
      const d = await NvmeDriver.open(client.device, {
        container,
        irqMode: "msix",
        queueEntries: 64,
        transferSlots: 32,
      });
      try {
        return await fn(d, bells);
      } finally {
        await d.close();
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

function randomLba(): bigint {
  return BigInt(Math.floor(Math.random() * (SPAN / 4096)) * BLOCKS_4K);
}

/** `depth` workers each issuing `per` ops back to back; IOPS and per-op latency. */
async function run(
  depth: number,
  total: number,
  op: () => Promise<unknown>,
  bells?: Doorbells,
): Promise<{ samples: number[]; seconds: number; bellsPerOp?: number }> {
  const samples: number[] = [];
  const bellsBefore = bells?.count ?? 0;
  const per = Math.ceil(total / depth);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: depth }, async () => {
      for (let i = 0; i < per; i++) {
        const s = process.hrtime.bigint();
        await op();
        samples.push(Number(process.hrtime.bigint() - s));
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (bells === undefined) return { samples, seconds };
  return { samples, seconds, bellsPerOp: (bells.count - bellsBefore) / samples.length };
}

function row(
  name: string,
  title: string,
  r: { samples: number[]; seconds: number; bellsPerOp?: number },
): BenchResult {
  const s = summarizeLatency(r.samples);
  return {
    name,
    title,
    iterations: r.samples.length,
    opsPerSec: r.samples.length / r.seconds,
    p50Us: s.p50Us,
    p99Us: s.p99Us,
    ...(r.bellsPerOp === undefined
      ? {}
      : { note: `${r.bellsPerOp.toFixed(2)} doorbell messages per I/O` }),
  };
}

export const nvmeBench: BenchCase = {
  name: "nvme",
  needs: "none",
  async run(ctx) {
    return withNvme(async (d, bells) => {
      const data = new Uint8Array(4096).fill(0x5a);
      // Fill the namespace so reads move real data, and warm the JIT on both sides.
      for (let lba = 0n; lba < BigInt(SPAN / 512); lba += 256n) {
        await d.writeBlocks(1, lba, new Uint8Array(128 * 1024).fill(Number(lba & 0xffn)));
      }
      await run(8, 2000, () => d.readBlocks(1, randomLba(), BLOCKS_4K));
      const n = iters(ctx, 20_000, 200);
      const qd1 = await run(
        1,
        Math.round(n / 4),
        () => d.readBlocks(1, randomLba(), BLOCKS_4K),
        bells,
      );
      const qd32 = await run(32, n, () => d.readBlocks(1, randomLba(), BLOCKS_4K), bells);
      const w32 = await run(32, n, () => d.writeBlocks(1, randomLba(), data), bells);
      const seq = await run(
        4,
        Math.round(n / 20),
        () => d.readBlocks(1, BigInt(Math.floor(Math.random() * (SPAN / 131072))) * 256n, 256),
        bells,
      );
      const seqRow = row("nvme-seq128k-read-qd4", "NVMe 128 KiB sequential-size read, QD4", seq);
      return [
        row("nvme-qd1-read4k", "NVMe 4 KiB random read, QD1 (latency)", qd1),
        row("nvme-qd32-read4k", "NVMe 4 KiB random read, QD32", qd32),
        row("nvme-qd32-write4k", "NVMe 4 KiB random write, QD32", w32),
        {
          ...seqRow,
          throughput: { value: ((seqRow.opsPerSec ?? 0) * 131072) / 1e6, unit: "MB/s" as const },
          bytes: 131072,
        },
      ];
    });
  },
};
