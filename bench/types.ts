import type { Container, DeviceHandle, VfioUserClient } from "../src/client/index.js";
import type { EduDriver } from "../src/drivers/index.js";

/** One row of the table. Benchmarks measure; they never judge. */
export interface BenchResult {
  /** Stable id (what BENCH_ONLY matches). */
  readonly name: string;
  readonly title: string;
  readonly iterations: number;
  readonly opsPerSec?: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  readonly throughput?: { readonly value: number; readonly unit: "GB/s" | "MB/s" };
  /** Bytes per operation, for throughput rows. */
  readonly bytes?: number;
  readonly note?: string;
}

/** What every vfio benchmark gets: one edu (+ bench engine) server, connected. */
export interface BenchContext {
  readonly client: VfioUserClient;
  readonly handle: DeviceHandle;
  readonly driver: EduDriver;
  readonly container: Container;
  /** Multiplies iteration counts (BENCH_SCALE). */
  readonly scale: number;
}

export interface BenchCase {
  readonly name: string;
  /** "baseline" cases run without the vfio server. */
  readonly needs: "vfio" | "none";
  run(ctx: BenchContext | null): Promise<BenchResult[]>;
}

/** `n` scaled, at least `min`. */
export function iters(ctx: { scale: number } | null, n: number, min = 10): number {
  return Math.max(min, Math.round(n * (ctx?.scale ?? benchScale())));
}

export function benchScale(): number {
  const s = Number(process.env.BENCH_SCALE ?? "1");
  return Number.isFinite(s) && s > 0 ? s : 1;
}

/** The context of a benchmark that needs the vfio server. */
export function needVfio(ctx: BenchContext | null): BenchContext {
  if (ctx === null) throw new Error("this benchmark needs the vfio server");
  return ctx;
}
