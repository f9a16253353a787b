/** Fd accounting for leak tests: counts entries of /proc/<pid>/fd. */
import { readdirSync, readlinkSync } from "node:fs";

/**
 * Number of fds open in this process. readdir itself holds one fd on /proc/self/fd
 * while listing; that one is not counted.
 */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length - 1;
}

/** Open fds of this process with what they refer to (readlink), for leak diagnostics. */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      out.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // readdir's own fd, closed once the listing ended
    }
  }
  return out;
}

/** Number of fds open in process `pid` (readable for our own children). */
export function fdCountOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
