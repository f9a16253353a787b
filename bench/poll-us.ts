/** BENCH_POLL_US: the busy-polling time of the "polled" rows (default 100 µs; 0 skips them). */
export function benchPollUs(): number {
  const v = Number(process.env.BENCH_POLL_US ?? "100");
  if (!Number.isInteger(v) || v < 0 || v > 1_000_000) {
    throw new Error(`BENCH_POLL_US must be an integer from 0 to 1000000, got ${v}`);
  }
  return v;
}
