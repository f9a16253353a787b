/**
 * The peer server of the comparison cases: BENCH_PEER_SOCKET, optionally started per
 * turn by BENCH_PEER_CMD (for servers that exit after one client, as libvfio-user's
 * samples do), for BENCH_ROUNDS rounds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

export interface PeerConfig {
  readonly path: string;
  readonly cmd: string | undefined;
  readonly rounds: number;
  /** BENCH_PEER_POSTED: where the peer takes posted 4-byte writes, "REGION:OFFSET:plain". */
  readonly posted: string | undefined;
}

/** The peer settings, or undefined when BENCH_PEER_SOCKET is not set. */
export function peerConfig(): PeerConfig | undefined {
  const path = process.env.BENCH_PEER_SOCKET;
  if (!path) return undefined;
  const posted = process.env.BENCH_PEER_POSTED;
  if (posted !== undefined && !/^\d+:\d+:plain$/.test(posted)) {
    throw new Error(`BENCH_PEER_POSTED must be REGION:OFFSET:plain, got ${posted}`);
  }
  return { path, cmd: process.env.BENCH_PEER_CMD, rounds: benchRounds(), posted };
}

/** BENCH_ROUNDS: turns per side in the comparison cases (default 5). */
export function benchRounds(): number {
  return Math.max(1, Number(process.env.BENCH_ROUNDS ?? "5") | 0);
}

/**
 * Starts the peer for one turn if BENCH_PEER_CMD is set (waiting for its socket file),
 * and returns how to stop it again.
 */
export async function startPeer(peer: PeerConfig): Promise<() => Promise<void>> {
  if (peer.cmd === undefined) return async () => {};
  rmSync(peer.path, { force: true });
  const child: ChildProcess = spawn("/bin/sh", ["-c", peer.cmd.replaceAll("{socket}", peer.path)], {
    stdio: "ignore",
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 5000;
  while (!existsSync(peer.path)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`BENCH_PEER_CMD did not create ${peer.path}: ${peer.cmd}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return stop;
}

export function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
