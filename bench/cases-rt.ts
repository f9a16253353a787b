/** Round-trip benchmarks: one request, one reply, one at a time. */
import { eduRegs, freeIova, measureLatency, summarizeLatency } from "../src/drivers/index.js";
import type { BenchCase, BenchResult } from "./types.js";
import { iters, needVfio } from "./types.js";

const BAR = eduRegs.EDU_BAR;

/**
 * Times `op` after a warm-up of as many calls (at least 2000): both processes' JITs
 * optimise a path only after some thousands of runs, and a cold server can be several
 * times slower than a warm one.
 */
async function latencyRow(
  name: string,
  title: string,
  n: number,
  op: (i: number) => Promise<unknown>,
  note?: string,
): Promise<BenchResult> {
  await measureLatency(Math.max(2000, n), op);
  const s = await measureLatency(n, op);
  return {
    name,
    title,
    iterations: n,
    opsPerSec: s.opsPerSec,
    p50Us: s.p50Us,
    p99Us: s.p99Us,
    note,
  };
}

export const configRead: BenchCase = {
  name: "config-read32",
  needs: "vfio",
  run: async (c) => {
    const ctx = needVfio(c);
    return [
      await latencyRow("config-read32", "config space 4-byte read", iters(ctx, 3000), () =>
        ctx.handle.config.read32(0),
      ),
    ];
  },
};

export const barRead: BenchCase = {
  name: "bar0-read32",
  needs: "vfio",
  run: async (c) => {
    const ctx = needVfio(c);
    return [
      await latencyRow("bar0-read32", "BAR0 4-byte read (edu id)", iters(ctx, 3000), () =>
        ctx.handle.read32(BAR, eduRegs.REG_ID),
      ),
    ];
  },
};

export const barWrite: BenchCase = {
  name: "bar0-write32",
  needs: "vfio",
  run: async (c) => {
    const ctx = needVfio(c);
    return [
      await latencyRow("bar0-write32", "BAR0 4-byte write (edu liveness)", iters(ctx, 3000), (i) =>
        ctx.handle.write32(BAR, eduRegs.REG_LIVENESS, i),
      ),
    ];
  },
};

/**
 * Posted writes: DeviceHandle.writePosted32 (REGION_WRITE with VFIO_USER_F_NO_REPLY),
 * back to back, fenced by one read (the server handles commands in order, so the
 * read's reply means all landed).
 */
export const postedWrite: BenchCase = {
  name: "bar0-posted-write",
  needs: "vfio",
  run: async (c) => {
    const ctx = needVfio(c);
    const h = ctx.handle;
    const n = iters(ctx, 20000);
    for (let i = 0; i < 1000; i++) await h.writePosted32(BAR, eduRegs.REG_LIVENESS, i);
    await h.read32(BAR, eduRegs.REG_LIVENESS);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await h.writePosted32(BAR, eduRegs.REG_LIVENESS, i + 1);
    const fenced = await h.read32(BAR, eduRegs.REG_LIVENESS);
    const ns = Number(process.hrtime.bigint() - t0);
    const landed = fenced === ~n >>> 0;
    return [
      {
        name: "bar0-posted-write",
        title: "BAR0 posted 4-byte writes (NO_REPLY) + 1 fence read",
        iterations: n,
        opsPerSec: (n * 1e9) / ns,
        note: `DeviceHandle.writePosted32; last write ${landed ? "verified" : "NOT seen"} by the fence`,
      },
    ];
  },
};

export const dmaMapUnmap: BenchCase = {
  name: "dma-map-unmap",
  needs: "vfio",
  run: async (c) => {
    const ctx = needVfio(c);
    const mem = new Uint8Array(4096);
    const iova = freeIova(ctx.container, 4096n);
    return [
      await latencyRow(
        "dma-map-unmap",
        "DMA_MAP + DMA_UNMAP pair, 4 KiB, no fd",
        iters(ctx, 2000),
        async () => {
          const m = await ctx.container.mapMemory(iova, mem, "rw");
          await m.unmap();
        },
        "Container.mapMemory + unmap (2 round trips)",
      ),
    ];
  },
};

const WARMUP_IRQS = 1000;

/** raise register write -> eventfd readable in the driver ("wake"), and -> serviced (status read + ack). */
export const irqLatency: BenchCase = {
  name: "irq-latency",
  needs: "vfio",
  run: async (c) => {
    const ctx = needVfio(c);
    const n = iters(ctx, 1000);
    const bit = 0x10000;
    const wake: number[] = [];
    const done: number[] = [];
    for (let i = 0; i < n + WARMUP_IRQS; i++) {
      let tWake = 0n;
      ctx.handle.once("irq", () => {
        tWake = process.hrtime.bigint();
      });
      const t0 = process.hrtime.bigint();
      await ctx.driver.raise(bit);
      const t1 = process.hrtime.bigint();
      if (i < WARMUP_IRQS) continue; // warm-up
      wake.push(Number(tWake - t0));
      done.push(Number(t1 - t0));
    }
    const w = summarizeLatency(wake);
    const d = summarizeLatency(done);
    const mode = ctx.driver.irqMode.toUpperCase();
    return [
      {
        name: "irq-wake",
        title: `interrupt latency: raise write -> eventfd wake-up (${mode})`,
        iterations: n,
        p50Us: w.p50Us,
        p99Us: w.p99Us,
        note: "from sending the raise write; includes its trip to the server",
      },
      {
        name: "irq-serviced",
        title: "interrupt raised -> serviced (status read + ack)",
        iterations: n,
        opsPerSec: d.opsPerSec,
        p50Us: d.p50Us,
        p99Us: d.p99Us,
      },
    ];
  },
};

export const eduOps: BenchCase = {
  name: "edu-ops",
  needs: "vfio",
  run: async (c) => {
    const ctx = needVfio(c);
    const out: BenchResult[] = [];
    out.push(
      await latencyRow(
        "edu-factorial",
        "edu factorial(10), interrupt completion",
        iters(ctx, 1000),
        () => ctx.driver.factorial(10),
      ),
    );
    const buf = await ctx.container.allocateBuffer(4096);
    try {
      out.push(
        await latencyRow(
          "edu-dma-fd",
          "edu DMA 4 KiB RAM->device, fd-backed",
          iters(ctx, 500),
          () => ctx.driver.dmaToDevice(buf.iova, 4096),
        ),
      );
    } finally {
      await buf.free();
    }
    const mem = new Uint8Array(4096);
    const iova = freeIova(ctx.container, 4096n, eduRegs.DMA_ADDR_LIMIT);
    const m = await ctx.container.mapMemory(iova, mem, "rw");
    try {
      out.push(
        await latencyRow(
          "edu-dma-msg",
          "edu DMA 4 KiB RAM->device, DMA_READ message",
          iters(ctx, 500),
          () => ctx.driver.dmaToDevice(iova, 4096),
        ),
      );
    } finally {
      await m.unmap();
    }
    return out;
  },
};

export const roundTripCases: readonly BenchCase[] = [
  configRead,
  barRead,
  barWrite,
  postedWrite,
  dmaMapUnmap,
  irqLatency,
  eduOps,
];
