/** Latency of one repeated operation, in microseconds. */
export interface LatencySummary {
  readonly iterations: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  /** Operations per second at the mean latency (one at a time). */
  readonly opsPerSec: number;
}

/** Summarizes per-operation durations given in nanoseconds (nearest-rank percentiles). */
export function summarizeLatency(samplesNs: readonly number[]): LatencySummary {
  const n = samplesNs.length;
  if (n === 0)
    return { iterations: 0, p50Us: 0, p99Us: 0, meanUs: 0, minUs: 0, maxUs: 0, opsPerSec: 0 };
  const sorted = Float64Array.from(samplesNs).sort();
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / n;
  return {
    iterations: n,
    p50Us: rank(50) / 1000,
    p99Us: rank(99) / 1000,
    meanUs: mean / 1000,
    minUs: sorted[0]! / 1000,
    maxUs: sorted[n - 1]! / 1000,
    opsPerSec: mean > 0 ? 1e9 / mean : 0,
  };
}

/** Runs `op` `iterations` times one after another, timing each call. */
export async function measureLatency(
  iterations: number,
  op: (i: number) => Promise<unknown>,
): Promise<LatencySummary> {
  const samples = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await op(i);
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  return summarizeLatency(samples);
}
