/**
 * Round trips timed by a small blocking C client (c-client/vfio-user-timer.c, built
 * here with the system compiler, $CC or cc), so that the figures hold the server's
 * cost and not our Node client's. Against a fresh edu server of ours, and, when
 * BENCH_PEER_SOCKET is set, against that server too, in turns for BENCH_ROUNDS rounds.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ServerProcess } from "../src/harness/index.js";
import { buildTimer } from "./c-client/build.js";
import { benchRounds, median, peerConfig, startPeer } from "./peer.js";
import { pinServer } from "./pinning.js";
import { type BenchCase, type BenchResult, iters } from "./types.js";

const SERVE_BENCH = fileURLToPath(new URL("./serve-bench.js", import.meta.url));
const run = promisify(execFile);

const OPS = [
  { op: "config-read32", title: "config 4-byte read" },
  { op: "dma-map-unmap", title: "DMA_MAP + DMA_UNMAP pair, 4 KiB, no fd" },
] as const;
type Op = (typeof OPS)[number]["op"];

interface Timing {
  readonly n: number;
  readonly p50Us: number;
}

/** Runs the timer once against `socket`: per operation, its count and p50. */
async function timeOnce(bin: string, socket: string, n: number): Promise<Map<Op, Timing>> {
  const { stdout } = await run(bin, [socket, String(n)], { timeout: 120_000 });
  const out = new Map<Op, Timing>();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const r = JSON.parse(line) as { op: Op } & Timing;
    out.set(r.op, { n: r.n, p50Us: r.p50Us });
  }
  return out;
}

export const cClient: BenchCase = {
  name: "c-client",
  needs: "none",
  run: async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "vfio-ts-timer-"));
    const bin = join(dir, "vfio-user-timer");
    try {
      try {
        buildTimer(bin);
      } catch (err) {
        return [
          {
            name: "c-client",
            title: "C client round trips",
            iterations: 0,
            note: `skipped: ${(err as Error).message}`,
          },
        ];
      }
      const n = iters(ctx, 5000);
      const peer = peerConfig();
      const rounds = benchRounds();
      const ours = new Map<Op, Timing[]>(OPS.map((o) => [o.op, []]));
      const theirs = new Map<Op, Timing[]>(OPS.map((o) => [o.op, []]));
      const { server, socket } = await ServerProcess.start({ entry: SERVE_BENCH });
      try {
        pinServer(server.pid);
        socket.close(); // the server takes one client at a time: make room for the timer
        for (let r = 0; r < rounds; r++) {
          for (const [op, v] of await timeOnce(bin, server.path, n)) ours.get(op)?.push(v);
          if (peer === undefined) continue;
          const stopPeer = await startPeer(peer);
          try {
            for (const [op, v] of await timeOnce(bin, peer.path, n)) theirs.get(op)?.push(v);
          } finally {
            await stopPeer();
          }
        }
      } finally {
        await server.stop();
      }
      return OPS.flatMap(({ op, title }): BenchResult[] => {
        const mine = ours.get(op)!;
        const o = median(mine.map((t) => t.p50Us));
        const count = (ts: readonly Timing[]) => ts.reduce((a, t) => a + t.n, 0);
        const rows: BenchResult[] = [
          {
            name: `c-${op}-ours`,
            title: `C client: ${title}, our server (median of ${rounds} rounds' p50)`,
            iterations: count(mine),
            p50Us: o,
          },
        ];
        const t = theirs.get(op)!;
        if (t.length > 0) {
          const p = median(t.map((x) => x.p50Us));
          rows[0] = { ...rows[0]!, note: `ours/peer ${(o / p).toFixed(2)}x` };
          rows.push({
            name: `c-${op}-peer`,
            title: `C client: ${title}, BENCH_PEER_SOCKET server`,
            iterations: count(t),
            p50Us: p,
            note: "in turns with ours",
          });
        }
        return rows;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
