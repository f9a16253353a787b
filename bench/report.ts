import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import type { BenchResult } from "./types.js";

const fmt = (v: number | undefined, digits = 1) => (v === undefined ? "" : v.toFixed(digits));
const fmtRate = (v: number | undefined) =>
  v === undefined ? "" : Math.round(v).toLocaleString("en-US");

/** The results as an aligned text table; round trips are compared with the socket baseline's p50 (its faster run). */
export function formatTable(results: readonly BenchResult[]): string {
  const bases = results.flatMap((r) =>
    r.name.startsWith("baseline-pingpong") && r.p50Us !== undefined ? [r.p50Us] : [],
  );
  // The lower run: on a mostly idle (virtual) machine the first ping-pong can pay for CPUs
  // waking from idle on every trip, which would flatter everything compared with it.
  const base = bases.length > 0 ? Math.min(...bases) : undefined;
  const header = [
    "benchmark",
    "iters",
    "ops/s",
    "p50 us",
    "p99 us",
    "x base",
    "throughput",
    "note",
  ];
  const rows = results.map((r) => [
    r.title,
    String(r.iterations),
    fmtRate(r.opsPerSec),
    fmt(r.p50Us),
    fmt(r.p99Us),
    base && r.p50Us !== undefined && !r.name.startsWith("baseline-pingpong")
      ? `${(r.p50Us / base).toFixed(1)}x`
      : "",
    r.throughput
      ? `${fmt(r.throughput.value, r.throughput.unit === "GB/s" ? 2 : 0)} ${r.throughput.unit}`
      : "",
    r.note ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const right = new Set([1, 2, 3, 4, 5, 6]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Writes the results with the machine context; returns the file path. */
export function writeJson(
  dir: string,
  results: readonly BenchResult[],
  extra: Record<string, unknown>,
): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const path = join(dir, `${stamp}.json`);
  const doc = {
    timestamp: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model,
    cpus: cpus().length,
    // A string, not an array: biome would reflow a short array and flag the file.
    loadavg: loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    ...extra,
    results,
  };
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}
