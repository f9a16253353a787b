/**
 * A client that maps memory by fd, then truncates the file under the server's mapping.
 * Touching such a mapping raises SIGBUS; the server must turn that into an IOMMU fault
 * for the one access (EFAULT) and live on, for this client and the next.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { VfioUserClient } from "../../src/client/vfio-user-client.js";
import { ServerProcess } from "../../src/harness/server-process.js";
import { VFIO_PCI_CONFIG_REGION_INDEX } from "../../src/protocol/index.js";
import { F_SEAL_GROW, F_SEAL_SHRINK, MemFd } from "../../src/sys/index.js";
import { dma, map, RW } from "../server/dma-ops.js";
import { type DeviceProcess, startDevice } from "../server/harness.js";
import { RawClient } from "../server/raw-client.js";

const EFAULT = 14;
const EPERM = 1;

describe("hostile client: truncates the memory it mapped by fd", () => {
  let dev: DeviceProcess;
  before(async () => {
    dev = await startDevice();
  });
  after(async () => {
    await dev.stop();
  });

  it("faults the accesses to the vanished memory (EFAULT), keeps the other windows and the server", async () => {
    const c = await RawClient.connect(dev.path);
    await c.enableBusMaster();
    const loose = MemFd.create("unsealed", 0x4000);
    const sealed = MemFd.create("sealed", 0x4000, { allowSealing: true });
    sealed.seal(F_SEAL_SHRINK | F_SEAL_GROW);
    try {
      await map(c, 0x100000n, 0x4000, RW, loose.fd);
      await map(c, 0x200000n, 0x4000, RW, sealed.fd);
      assert.equal(await dma(c, 1, 0x100000n, 64), 0, "reads of unsealed memory work, copied");
      assert.equal(await dma(c, 3, 0x100000n, 64), EPERM, "but no view of memory that may vanish");
      assert.equal(await dma(c, 3, 0x200000n, 64), 0, "a sealed memfd gets a zero-copy view");
      loose.resize(0);
      assert.equal(await dma(c, 1, 0x100000n, 64), EFAULT, "read of truncated memory");
      assert.equal(await dma(c, 2, 0x100000n + 0x2000n, 64), EFAULT, "write to it");
      assert.equal(await dma(c, 2, 0x200000n, 64), 0, "the other window still works");
      assert.equal((await c.regionRead(VFIO_PCI_CONFIG_REGION_INDEX, 0, 2)).byteLength, 2);
    } finally {
      c.close();
      await c.closed();
      loose.close();
      sealed.close();
    }
    const next = await RawClient.connect(dev.path);
    assert.equal(await dma(next, 0, 0n, 0), 0);
    next.close();
    await next.closed();
  });
});

describe("hostile client: the truncate-then-DMA attack on `vfio-ts serve edu`", () => {
  const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.stop();
  });

  it("the edu DMA from truncated memory fails and the server serves the next client", async () => {
    const started = await ServerProcess.start({ entry: CLI, args: ["serve", "edu"] });
    server = started.server;
    const c = await RawClient.over(started.socket);
    const ram = MemFd.create("guest-ram", 0x2000);
    try {
      await c.write16(VFIO_PCI_CONFIG_REGION_INDEX, 4, 0x6); // memory + bus master
      await map(c, 0x10000n, 0x2000, RW, ram.fd);
      ram.resize(0);
      // edu: DMA 64 bytes from RAM at 0x10000 into its buffer at 0x40000, no interrupt.
      const w64 = (off: number, v: bigint) => {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setBigUint64(0, v, true);
        return c.regionWrite(0, off, b);
      };
      await w64(0x80, 0x10000n);
      await w64(0x88, 0x40000n);
      await w64(0x90, 64n);
      await w64(0x98, 1n);
      // The command completes (START clears) although it moved nothing.
      let cmd = 1n;
      for (let i = 0; i < 1000 && (cmd & 1n) !== 0n; i++) {
        const b = await c.regionRead(0, 0x98, 8);
        cmd = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
      }
      assert.equal(cmd & 1n, 0n);
      assert.equal((await c.read32(0, 0)) & 0xff, 0xed, "the server still answers");
    } finally {
      c.close();
      await c.closed();
      ram.close();
    }
    assert.equal(server.child.exitCode, null, "the server did not die");
    const next = await VfioUserClient.connect(server.path);
    try {
      assert.equal(await next.device.config.read16(0), 0x1234);
    } finally {
      await next.close();
    }
  });
});
