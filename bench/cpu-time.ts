/** CPU time of another process, from /proc/<pid>/stat (utime + stime, all threads). */
import { readFileSync } from "node:fs";

/** USER_HZ: the unit of /proc's times on every Linux architecture Node runs on. */
const TICKS_PER_SEC = 100;

/** Seconds of CPU that `pid` has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SEC; // fields 14 and 15
}
