/** Builds vfio-user-timer.c with the system C compiler: $CC, else cc, else gcc. */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** dist/bench/c-client/build.js -> <repo>/bench/c-client/vfio-user-timer.c */
export const TIMER_SOURCE = fileURLToPath(
  new URL("../../../bench/c-client/vfio-user-timer.c", import.meta.url),
);

/** Compiles the timer to `out`; throws naming every compiler tried if none works. */
export function buildTimer(out: string, extraFlags: readonly string[] = []): void {
  const compilers = process.env.CC ? [process.env.CC] : ["cc", "gcc"];
  const failures: string[] = [];
  for (const cc of compilers) {
    try {
      execFileSync(cc, ["-O2", ...extraFlags, "-o", out, TIMER_SOURCE], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      return;
    } catch (err) {
      failures.push(`${cc}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(`cannot build ${TIMER_SOURCE}: ${failures.join("; ")}`);
}
