// dmaFds: "sealed" maps only memfds sealed against shrinking; other windows are reached
// through DMA_READ messages, so a client truncating its file cannot SIGBUS the server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import counterDevice from "../../examples/counter-device.js";
import { Command } from "../../src/protocol/index.js";
import { silentLogger, VfioUserServer } from "../../src/server/index.js";
import {
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  fdSeals,
  MemFd,
  munmap,
  socketPair,
} from "../../src/sys/index.js";
import { RawClient } from "./raw-client.js";

const WORDS = [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n];

function memoryWithWords(sealed: boolean): { memfd: MemFd; bytes: Uint8Array } {
  const memfd = MemFd.create("dma", 4096, { allowSealing: sealed });
  if (sealed) memfd.seal(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  const bytes = new Uint8Array(memfd.map(0, 4096));
  new BigUint64Array(bytes.buffer, 0, 8).set(WORDS);
  return { memfd, bytes };
}

describe('server option dmaFds: "sealed"', () => {
  it("mmaps a sealed memfd and serves an unsealed one by messages", async () => {
    const dev = counterDevice();
    const server = new VfioUserServer(dev, { logger: silentLogger, dmaFds: "sealed" });
    const [a, b] = socketPair();
    server.serve(a);
    const c = await RawClient.over(b);
    await c.enableBusMaster();
    const sealed = memoryWithWords(true);
    const unsealed = memoryWithWords(false);
    try {
      assert.equal(fdSeals(unsealed.memfd.fd) & F_SEAL_SHRINK, 0);
      // The unsealed window's bytes, as the client would serve them to DMA_READ.
      c.windows.push({ iova: 0x20000n, bytes: unsealed.bytes });
      for (const [iova, m] of [
        [0x10000n, sealed],
        [0x20000n, unsealed],
      ] as const) {
        await c.call(
          Command.VFIO_USER_DMA_MAP,
          { argsz: 32, flags: 3, offset: 0n, address: iova, size: 4096n },
          { fds: [m.memfd.fd] },
        );
      }
      assert.deepEqual(
        dev.dma.windows().map((w) => [w.iova, w.mapped]),
        [
          [0x10000n, true],
          [0x20000n, false],
        ],
      );
      await c.write32(0, 0xc, 0x10000);
      assert.equal(await c.read32(0, 0x10), 36);
      assert.equal(c.serverRequests.length, 0, "the sealed window is read directly");
      await c.write32(0, 0xc, 0x20000);
      assert.equal(await c.read32(0, 0x10), 36);
      assert.deepEqual(
        c.serverRequests.map((r) => [r.command, r.address]),
        [[Command.VFIO_USER_DMA_READ, 0x20000n]],
        "the unsealed window is read through DMA_READ",
      );
      // Truncating the unsealed file now cannot hurt the server: it never mapped it.
      unsealed.memfd.resize(0);
      c.close();
      await server.idle();
    } finally {
      munmap(unsealed.bytes.buffer as ArrayBuffer);
      munmap(sealed.bytes.buffer as ArrayBuffer);
      unsealed.memfd.close();
      sealed.memfd.close();
      await server.close();
      dev.close();
    }
  });
});
