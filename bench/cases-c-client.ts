/**
 * Round trips timed by a small blocking C client (c-client/vfio-user-timer.c, built
 * here with the system compiler, $CC or cc), so that the figures hold the server's
 * cost and not our Node client's. In turns for BENCH_ROUNDS rounds, so that every row
 * sees the same machine weather:
 *   - our edu server, default, and with busy polling (--poll-us BENCH_POLL_US);
 *   - the peer at BENCH_PEER_SOCKET, when set (posted writes too with BENCH_PEER_POSTED=
 *     REGION:OFFSET:plain, a plain 4-byte memory register of the peer's: "1:0:plain" for
 *     libvfio-user's samples/server);
 *   - the floors: 16-byte ping-pong against a forked C echo child, and against a bare
 *     Node echo server on our sockets (bench/echo-server.ts).
 * Each row is the median over rounds of that round's p50 (and p99).
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
import { benchPollUs } from "./poll-us.js";
import { type BenchCase, type BenchResult, iters } from "./types.js";

const SERVE_BENCH = fileURLToPath(new URL("./serve-bench.js", import.meta.url));
const ECHO_ENTRY = fileURLToPath(new URL("./echo-server.js", import.meta.url));
const run = promisify(execFile);

interface Timing {
  readonly op: string;
  readonly n: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  readonly opsPerSec?: number;
}

/** Runs the timer once with `args`: its JSON lines. */
async function timeOnce(bin: string, args: readonly string[]): Promise<Timing[]> {
  const { stdout } = await run(bin, args, { timeout: 120_000 });
  return stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Timing);
}

/** What one side of the comparison is: a label and how to time it once. */
interface Side {
  readonly key: string;
  readonly label: string;
  time(): Promise<Timing[]>;
}

const TITLES: Record<string, string> = {
  "config-read32": "config 4-byte read",
  "dma-map-unmap": "DMA_MAP + DMA_UNMAP pair, 4 KiB, no fd",
  "bar-read32": "BAR 4-byte read",
  "posted-write32": "posted 4-byte BAR writes (NO_REPLY) + 1 fence read",
  pingpong: "floor: 16 B ping-pong, C to a forked C echo (socketpair)",
  echo: "floor: 16 B ping-pong, C to a bare Node echo server",
};

export const cClient: BenchCase = {
  name: "c-client",
  needs: "none",
  run: async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "vfio-ts-timer-"));
    const bin = join(dir, "vfio-user-timer");
    const stops: (() => Promise<void>)[] = [];
    try {
      try {
        buildTimer(bin);
      } catch (err) {
        const note = `skipped: ${(err as Error).message}`;
        return [{ name: "c-client", title: "C client round trips", iterations: 0, note }];
      }
      const n = iters(ctx, 5000);
      const pollUs = benchPollUs();
      const peer = peerConfig();
      const sides: Side[] = [
        { key: "floor-c", label: "", time: () => timeOnce(bin, ["--pingpong", String(n)]) },
      ];
      const echo = await ServerProcess.start({ entry: ECHO_ENTRY });
      echo.socket.close();
      stops.push(() => echo.server.stop());
      pinServer(echo.server.pid);
      sides.push({
        key: "floor-node",
        label: "",
        time: () => timeOnce(bin, ["--echo", echo.server.path, String(n)]),
      });
      for (const [key, poll] of pollUs > 0
        ? ([
            ["ours", 0],
            ["ours-polled", pollUs],
          ] as const)
        : ([["ours", 0]] as const)) {
        const { server, socket } = await ServerProcess.start({
          entry: SERVE_BENCH,
          args: poll > 0 ? ["--poll-us", String(poll)] : [],
        });
        stops.push(() => server.stop());
        pinServer(server.pid);
        socket.close(); // the server takes one client at a time: make room for the timer
        const label = poll > 0 ? `our server, --poll-us ${poll}` : "our server";
        sides.push({ key, label, time: () => timeOnce(bin, [server.path, String(n), "posted"]) });
      }
      if (peer !== undefined) {
        sides.push({
          key: "peer",
          label: "BENCH_PEER_SOCKET server",
          time: async () => {
            const stopPeer = await startPeer(peer);
            try {
              return await timeOnce(bin, [
                peer.path,
                String(n),
                ...(peer.posted !== undefined ? [`posted=${peer.posted}`] : []),
              ]);
            } finally {
              await stopPeer();
            }
          },
        });
      }
      const rounds = benchRounds();
      const got = new Map<string, Timing[]>();
      for (let r = 0; r < rounds; r++) {
        for (const side of sides) {
          for (const t of await side.time()) {
            const k = `${side.key}/${t.op}`;
            got.set(k, [...(got.get(k) ?? []), t]);
          }
        }
      }
      return rows(sides, got, rounds);
    } finally {
      for (const stop of stops.reverse()) await stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function rows(sides: readonly Side[], got: Map<string, Timing[]>, rounds: number): BenchResult[] {
  const med = (ts: readonly Timing[], f: (t: Timing) => number | undefined) => {
    const v = ts.flatMap((t) => (f(t) === undefined ? [] : [f(t)!]));
    return v.length > 0 ? median(v) : undefined;
  };
  const p50Of = (key: string) => med(got.get(key) ?? [], (t) => t.p50Us);
  const floor = p50Of("floor-c/pingpong");
  const out: BenchResult[] = [];
  for (const side of sides) {
    for (const [k, ts] of got) {
      if (!k.startsWith(`${side.key}/`)) continue;
      const op = k.slice(side.key.length + 1);
      const p50 = med(ts, (t) => t.p50Us);
      const notes: string[] = [];
      const peerP50 = p50Of(`peer/${op}`);
      if (side.key.startsWith("ours") && peerP50 !== undefined && p50 !== undefined) {
        notes.push(`ours/peer ${(p50 / peerP50).toFixed(2)}x`);
      }
      const rate = med(ts, (t) => t.opsPerSec);
      const peerRate = med(got.get(`peer/${op}`) ?? [], (t) => t.opsPerSec);
      if (side.key.startsWith("ours") && rate !== undefined && peerRate !== undefined) {
        notes.push(`ours/peer rate ${(rate / peerRate).toFixed(2)}x`);
      }
      if (floor !== undefined && p50 !== undefined && side.key !== "floor-c") {
        notes.push(`${(p50 / floor).toFixed(2)}x the C ping-pong`);
      }
      out.push({
        name: `c-${op}-${side.key}`,
        title: `C client: ${TITLES[op] ?? op}${side.label ? `, ${side.label}` : ""} (median of ${rounds} rounds)`,
        iterations: ts.reduce((a, t) => a + t.n, 0),
        p50Us: p50,
        p99Us: med(ts, (t) => t.p99Us),
        opsPerSec: med(ts, (t) => t.opsPerSec),
        note: notes.length > 0 ? notes.join("; ") : undefined,
      });
    }
  }
  return out;
}
