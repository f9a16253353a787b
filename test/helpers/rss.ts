/** Memory accounting for bloat tests: a process's resident set from /proc. */
import { readFileSync } from "node:fs";

/** Resident memory of process `pid`, from /proc/PID/status (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}
