/**
 * Like-for-like comparison with another vfio-user server, typically a C one such as
 * libvfio-user's samples/server, built and started by you (nothing here builds it).
 * The same client code runs the same operations against our edu server and the peer,
 * taking them in turns for several rounds so that both see the same machine weather.
 * Each row gives, per side, the median over rounds of that round's p50, and the ratio.
 *
 *   BENCH_PEER_SOCKET=/path        the peer listens there
 *   BENCH_PEER_CMD="prog {socket}" optional: start the peer before each of its turns, for
 *                                  servers that exit after one client (libvfio-user's
 *                                  samples do); {socket} becomes BENCH_PEER_SOCKET
 *   BENCH_ROUNDS=5                 turns per side
 */
import { Container, IommuOwner, VfioUserClient } from "../src/client/index.js";
import { freeIova, measureLatency } from "../src/drivers/index.js";
import { connectUnixRetry } from "../src/sys/index.js";
import { median, type PeerConfig, peerConfig, startPeer } from "./peer.js";
import type { BenchCase, BenchContext, BenchResult } from "./types.js";
import { iters, needVfio } from "./types.js";

/** One client's view of a server: the operations both sides are timed on. */
interface Side {
  configRead(): Promise<unknown>;
  dmaPair(): Promise<unknown>;
  close(): Promise<void>;
}

async function sideOf(client: VfioUserClient, container: Container): Promise<Side> {
  const mem = new Uint8Array(Number(container.pageSize));
  const iova = freeIova(container, BigInt(mem.byteLength));
  return {
    configRead: () => client.device.config.read32(0),
    dmaPair: async () => {
      const m = await container.mapMemory(iova, mem, "rw");
      await m.unmap();
    },
    close: async () => {},
  };
}

async function openPeer(peer: PeerConfig): Promise<Side> {
  const stopPeer = await startPeer(peer);
  try {
    const socket = await connectUnixRetry(peer.path, { timeoutMs: 5000 });
    const client = await VfioUserClient.fromSocket(socket, { name: "peer" });
    const container = new Container({ owner: new IommuOwner({ memlockLimit: "infinity" }) });
    await container.attach(client.device);
    const side = await sideOf(client, container);
    return {
      ...side,
      close: async () => {
        await container.close();
        await client.close();
        await stopPeer();
      },
    };
  } catch (err) {
    await stopPeer();
    throw err;
  }
}

async function p50(n: number, op: () => Promise<unknown>): Promise<number> {
  await measureLatency(Math.max(2000, n), op); // JITs warm, as in cases-rt.ts
  return (await measureLatency(n, op)).p50Us;
}

export const peerComparison: BenchCase = {
  name: "peer-compare",
  needs: "vfio",
  run: async (c) => {
    const ctx: BenchContext = needVfio(c);
    const peer = peerConfig();
    if (!peer) {
      return [
        {
          name: "peer-compare",
          title: "same client against another server",
          iterations: 0,
          note: "BENCH_PEER_SOCKET not set",
        },
      ];
    }
    const rounds = peer.rounds;
    const ours = await sideOf(ctx.client, ctx.container);
    const ops = [
      { key: "configRead", name: "config 4-byte read", n: iters(ctx, 2000) },
      { key: "dmaPair", name: "DMA_MAP + DMA_UNMAP pair, 4 KiB, no fd", n: iters(ctx, 1000) },
    ] as const;
    const got = ops.map(() => ({ ours: [] as number[], peer: [] as number[] }));
    for (let r = 0; r < rounds; r++) {
      for (const [i, op] of ops.entries()) got[i]!.ours.push(await p50(op.n, ours[op.key]));
      const side = await openPeer(peer);
      try {
        for (const [i, op] of ops.entries()) got[i]!.peer.push(await p50(op.n, side[op.key]));
      } finally {
        await side.close();
      }
    }
    return ops.flatMap((op, i): BenchResult[] => {
      const o = median(got[i]!.ours);
      const p = median(got[i]!.peer);
      const spread = got[i]!.ours.map((v, k) => (v / got[i]!.peer[k]!).toFixed(2)).join(" ");
      return [
        {
          name: `peer-${op.key}-ours`,
          title: `${op.name}: ours (median of ${rounds} rounds' p50)`,
          iterations: op.n * rounds,
          p50Us: o,
          note: `ours/peer ${(o / p).toFixed(2)}x; per round ${spread}`,
        },
        {
          name: `peer-${op.key}-peer`,
          title: `${op.name}: BENCH_PEER_SOCKET server`,
          iterations: op.n * rounds,
          p50Us: p,
          note: "same client code, in turns with ours",
        },
      ];
    });
  },
};
