import { fileURLToPath } from "node:url";
import { summarizeLatency } from "../src/drivers/index.js";
import { ServerProcess } from "../src/harness/server-process.js";
import type { UnixSocket } from "../src/sys/index.js";
import { pinServer } from "./pinning.js";
import { type BenchCase, type BenchResult, iters } from "./types.js";

const ECHO_ENTRY = fileURLToPath(new URL("./echo-server.js", import.meta.url));
const MSG = 16;

/** 16-byte ping-pong over src/sys sockets with another process: the floor under every round trip. */
export const socketBaseline: BenchCase = baselineCase(
  "baseline-pingpong",
  "baseline: UNIX socket ping-pong, 16 B, 2 processes",
);

/** The same after the vfio cases: the two rows show how much the machine drifted meanwhile. */
export const socketBaselineEnd: BenchCase = baselineCase(
  "baseline-pingpong-end",
  "baseline again, after the vfio benchmarks",
);

function baselineCase(name: string, title: string): BenchCase {
  return {
    name,
    needs: "none",
    async run(ctx): Promise<BenchResult[]> {
      const { server, socket } = await ServerProcess.start({ entry: ECHO_ENTRY });
      pinServer(server.pid);
      try {
        await pingPong(socket, iters(ctx, 2000)); // warm-up: JIT, and CPUs out of idle states
        const n = iters(ctx, 5000);
        const s = summarizeLatency(await pingPong(socket, n));
        return [
          { name, title, iterations: n, opsPerSec: s.opsPerSec, p50Us: s.p50Us, p99Us: s.p99Us },
        ];
      } finally {
        socket.close();
        await server.stop();
      }
    },
  };
}

/** Sends MSG bytes, waits for them to come back, `n` times; per-trip durations in ns. */
function pingPong(sock: UnixSocket, n: number): Promise<number[]> {
  const out = new Uint8Array(MSG).fill(7);
  const buf = new Uint8Array(4096);
  const samples: number[] = [];
  return new Promise((resolve, reject) => {
    let t0 = 0n;
    let got = 0;
    const send = () => {
      t0 = process.hrtime.bigint();
      if (sock.send([out]) !== MSG) reject(new Error("short send in ping-pong"));
    };
    sock.onReadable(() => {
      for (;;) {
        const r = sock.recv(buf, 0);
        if (r === null) break;
        if (r.bytes === 0) {
          sock.onReadable(null);
          reject(new Error("echo server closed the connection"));
          return;
        }
        got += r.bytes;
      }
      while (got >= MSG) {
        got -= MSG;
        samples.push(Number(process.hrtime.bigint() - t0));
        if (samples.length === n) {
          sock.onReadable(null);
          resolve(samples);
          return;
        }
        send();
      }
    });
    send();
  });
}
