/** BENCH_CPUS=client,server: optional CPU pinning of the benchmark's two ends (taskset). */
import { execFileSync } from "node:child_process";

/** BENCH_CPUS as [client, server], or undefined. */
function pinning(): [string, string] | undefined {
  const v = process.env.BENCH_CPUS;
  if (!v) return undefined;
  const m = /^(\d+),(\d+)$/.exec(v.trim());
  if (!m) throw new Error(`BENCH_CPUS must look like "0,1" (client CPU, server CPU), got ${v}`);
  return [m[1]!, m[2]!];
}

/** Moves every thread of `pid` to `cpu` (taskset -a); fails loudly if that is impossible. */
function pin(pid: number, cpu: string): void {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", cpu, String(pid)], { stdio: "ignore" });
  } catch (err) {
    throw new Error(`BENCH_CPUS: taskset could not pin pid ${pid} to CPU ${cpu}: ${err}`);
  }
}

/** Pins this process (the client side) if BENCH_CPUS is set. */
export function pinClient(): void {
  const cpus = pinning();
  if (cpus) pin(process.pid, cpus[0]);
}

/** Pins a server process we started if BENCH_CPUS is set. */
export function pinServer(pid: number): void {
  const cpus = pinning();
  if (cpus) pin(pid, cpus[1]);
}
