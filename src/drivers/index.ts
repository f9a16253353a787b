/** Sample user-level drivers, written against the driver SDK (src/client). */
export * from "./edu/index.js";
export { type LatencySummary, measureLatency, summarizeLatency } from "./latency.js";
export * as nvme from "./nvme/index.js";
