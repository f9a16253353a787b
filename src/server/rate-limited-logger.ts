import type { Logger } from "./logger.js";

/** How many messages of one level may pass per interval (see rateLimitedLogger). */
export interface LogRateLimit {
  /** Messages let through per interval and level; default 20. */
  readonly burst?: number;
  /** The interval in ms; default 5000. */
  readonly intervalMs?: number;
}

const DEFAULT_BURST = 20;
const DEFAULT_INTERVAL_MS = 5000;

/**
 * A logger that lets at most `burst` messages per level through in each interval and
 * counts the rest, saying how many it dropped with the next message it lets through,
 * as the kernel's printk_ratelimited does. Most of what a server logs is caused by its
 * client (a refused posted write, a DMA fault, a refused connection), and a client
 * must not be able to flood the server's log or spend its time writing one. Debug
 * output (`verbose`) is asked for by the operator and passes unlimited.
 */
export function rateLimitedLogger(
  inner: Logger,
  limit: LogRateLimit = {},
  now: () => number = Date.now,
): Logger {
  const burst = limit.burst ?? DEFAULT_BURST;
  const intervalMs = limit.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (!Number.isSafeInteger(burst) || burst < 1) {
    throw new RangeError(`log rate limit: burst must be an integer >= 1, got ${burst}`);
  }
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) {
    throw new RangeError(`log rate limit: intervalMs must be an integer >= 1, got ${intervalMs}`);
  }
  const gate = (level: "info" | "warn" | "error") => {
    let start = Number.NEGATIVE_INFINITY;
    let passed = 0;
    let dropped = 0;
    return (message: string): void => {
      const t = now();
      if (t - start >= intervalMs) {
        start = t;
        passed = 0;
      }
      if (passed >= burst) {
        dropped++;
        return;
      }
      passed++;
      if (dropped > 0) {
        inner[level](`(${dropped} ${level} messages suppressed by the rate limit)`);
        dropped = 0;
      }
      inner[level](message);
    };
  };
  return {
    info: gate("info"),
    warn: gate("warn"),
    error: gate("error"),
    debug: (m) => inner.debug(m),
  };
}
