import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  Command,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_UNMAP_FLAG_ALL,
} from "../../src/protocol/index.js";
import { F_SEAL_GROW, F_SEAL_SHRINK, MemFd, munmap } from "../../src/sys/index.js";
import { REG } from "../fixtures/test-device-regs.js";
import { dma, map, RW } from "./dma-ops.js";
import { type DeviceProcess, startDevice } from "./harness.js";
import { E, rejectsWith } from "./helpers.js";
import { le, RawClient } from "./raw-client.js";

const A = 0x100000n;
const A_SIZE = 0x10000;
const B = 0x200000n;
const RO = 0x300000n;

function unmap(c: RawClient, iova: bigint, size: number, flags = 0) {
  return c.call(Command.VFIO_USER_DMA_UNMAP, {
    argsz: 24,
    flags,
    address: iova,
    size: BigInt(size),
  });
}

describe("server: DMA (device in another process)", () => {
  let dev: DeviceProcess;
  let c: RawClient;
  let mem: MemFd;
  let guest: ArrayBuffer;
  let g: Uint8Array;
  before(async () => {
    dev = await startDevice();
    c = await RawClient.connect(dev.path);
    await c.enableBusMaster();
    // Sealed against shrinking, as QEMU's memory-backend-memfd is: only such memory
    // may be handed to device code as a view (see test/hostile/truncated-memory).
    mem = MemFd.create("guest-ram", A_SIZE, { allowSealing: true });
    mem.seal(F_SEAL_SHRINK | F_SEAL_GROW);
    guest = mem.map(0, A_SIZE);
    g = new Uint8Array(guest);
  });
  after(async () => {
    munmap(guest);
    mem.close();
    c.close();
    await dev.stop();
  });

  it("reads, writes and views fd-backed memory directly", async () => {
    await map(c, A, A_SIZE, RW, mem.fd);
    for (let i = 0; i < 64; i++) g[0x10 + i] = i;
    assert.equal(await dma(c, 1, A + 0x10n, 64), 0);
    assert.deepEqual([...(await c.regionRead(0, REG.BUF, 64))], [...g.subarray(0x10, 0x50)]);
    await c.regionWrite(0, REG.BUF, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    assert.equal(await dma(c, 2, A + 0x1000n, 4), 0);
    assert.deepEqual([...g.subarray(0x1000, 0x1004)], [0xde, 0xad, 0xbe, 0xef]);
    assert.equal(await dma(c, 3, A + 0x2000n, 16), 0);
    assert.deepEqual([...g.subarray(0x2000, 0x2010)], new Array(16).fill(0xa5), "zero-copy view");
    assert.equal(c.serverRequests.length, 0, "no messages for fd-backed windows");
  });

  it("reaches windows without an fd through DMA_READ/DMA_WRITE, across windows too", async () => {
    const bytes = new Uint8Array(0x2000).map((_, i) => i & 0xff);
    c.windows.push({ iova: B, bytes });
    await map(c, B, 0x2000);
    assert.equal(await dma(c, 1, B + 0x100n, 32), 0);
    assert.deepEqual([...(await c.regionRead(0, REG.BUF, 32))], [...bytes.subarray(0x100, 0x120)]);
    assert.deepEqual(c.serverRequests.at(-1), {
      command: Command.VFIO_USER_DMA_READ,
      address: B + 0x100n,
      count: 32,
    });
    await c.regionWrite(0, REG.BUF, new Uint8Array([1, 2, 3]));
    assert.equal(await dma(c, 2, B + 0x10n, 3), 0);
    assert.deepEqual([...bytes.subarray(0x10, 0x13)], [1, 2, 3]);
    assert.equal(await dma(c, 3, B, 16), E.EINVAL, "no zero-copy view without an fd");

    const tail = new Uint8Array(0x1000).fill(7);
    c.windows.push({ iova: A + BigInt(A_SIZE), bytes: tail });
    await map(c, A + BigInt(A_SIZE), 0x1000);
    g.fill(9, A_SIZE - 8);
    assert.equal(await dma(c, 1, A + BigInt(A_SIZE - 8), 16), 0, "one access over two windows");
    assert.deepEqual(
      [...(await c.regionRead(0, REG.BUF, 16))],
      [9, 9, 9, 9, 9, 9, 9, 9, 7, 7, 7, 7, 7, 7, 7, 7],
    );
    assert.equal(
      await dma(c, 3, A + BigInt(A_SIZE - 8), 16),
      E.EINVAL,
      "a view cannot span windows",
    );
    await unmap(c, A + BigInt(A_SIZE), 0x1000);
  });

  it("faults on unmapped IOVA and on permission, and counts the faults", async () => {
    const before = await c.read32(0, REG.DMA_FAULTS);
    assert.equal(await dma(c, 1, 0x900000n, 4), E.EFAULT);
    const ro = MemFd.create("ro", 4096);
    await map(c, RO, 4096, VFIO_DMA_MAP_FLAG_READ, ro.fd);
    ro.close();
    assert.equal(await dma(c, 1, RO, 4), 0);
    assert.equal(await dma(c, 2, RO, 4), E.EFAULT, "write to a read-only window");
    assert.equal(await dma(c, 1, RO + 4092n, 8), E.EFAULT, "runs off the end");
    assert.equal(await c.read32(0, REG.DMA_FAULTS), before + 3);
    await unmap(c, RO, 4096);
  });

  it("applies the IOMMU rules to DMA_MAP and DMA_UNMAP", async () => {
    await rejectsWith(map(c, A + 0x1000n, 0x1000), E.EEXIST, "overlap");
    await rejectsWith(map(c, 0x400800n, 0x1000), E.EINVAL, "misaligned");
    await rejectsWith(map(c, 0x400000n, 0x1000, 0), E.EINVAL, "no permission");
    await rejectsWith(unmap(c, A, A_SIZE / 2), E.ENOENT, "not an exact match");
    const twoFds = MemFd.create("x", 4096);
    await rejectsWith(
      c.call(
        Command.VFIO_USER_DMA_MAP,
        { argsz: 32, flags: RW, offset: 0n, address: 0x500000n, size: 4096n },
        { fds: [twoFds.fd, twoFds.fd] },
      ),
      E.EINVAL,
      "two fds",
    );
    await rejectsWith(
      map(c, 0x500000n, 8192, RW, twoFds.fd),
      E.EINVAL,
      "window past the end of the file",
    );
    twoFds.close();
    const r = await unmap(c, A, A_SIZE);
    assert.equal(r.reply.address, A);
    assert.equal(r.reply.size, BigInt(A_SIZE));
    assert.equal(await dma(c, 1, A, 4), E.EFAULT, "unmapped");
  });

  it("enforces max_dma_maps (8 for this device)", async () => {
    await unmap(c, 0n, 0, VFIO_DMA_UNMAP_FLAG_ALL);
    for (let i = 0; i < 8; i++) await map(c, 0x1000000n + BigInt(i) * 0x1000n, 0x1000);
    await rejectsWith(map(c, 0x2000000n, 0x1000), E.ENOSPC);
    await unmap(c, 0n, 0, VFIO_DMA_UNMAP_FLAG_ALL);
    await map(c, 0x2000000n, 0x1000);
    await unmap(c, 0x2000000n, 0x1000);
  });

  it("makes DMA_UNMAP wait for an access in flight on that window", async () => {
    const bytes = new Uint8Array(0x1000).fill(0x42);
    c.windows.push({ iova: 0x600000n, bytes });
    await map(c, 0x600000n, 0x1000);
    let release!: () => void;
    c.hold = new Promise((r) => {
      release = r;
    });
    const seen = c.serverRequests.length;
    await c.regionWrite(0, REG.DMA_ADDR, le(0x600000, 4));
    await c.regionWrite(0, REG.DMA_ADDR + 4, le(0, 4));
    await c.write32(0, REG.DMA_LEN, 8);
    await c.write32(0, REG.DMA_CMD, 4); // background read: the handler returns at once
    while (c.serverRequests.length === seen) await new Promise((r) => setTimeout(r, 2));
    let unmapped = false;
    const u = unmap(c, 0x600000n, 0x1000).then(() => {
      unmapped = true;
    });
    // The device's onDmaUnmap ran: the server has the DMA_UNMAP and the window is gone
    // from its IOMMU. Its reply can only follow our DMA_READ reply, still held here.
    await dev.waitOutput(/dma-unmap 0x600000\n/g);
    assert.equal(unmapped, false, "DMA_UNMAP is not answered while the read is in flight");
    c.hold = undefined;
    release();
    await u;
    assert.equal(await c.read32(0, REG.BG_DONE), 1);
    assert.equal(await c.read32(0, REG.DMA_STATUS), 0, "the in-flight read completed");
    assert.deepEqual([...(await c.regionRead(0, REG.BUF, 8))], new Array(8).fill(0x42));
  });

  it("splits message DMA by the client's max_data_xfer_size, and takes requests up to its own", async () => {
    c.close();
    await c.closed();
    c = await RawClient.connect(dev.path, { capabilities: { maxDataXferSize: 1024 } });
    await c.enableBusMaster();
    const bytes = new Uint8Array(0x3000).map((_, i) => (i * 7) & 0xff);
    c.windows.push({ iova: 0x700000n, bytes });
    await map(c, 0x700000n, 0x3000);
    c.serverRequests.length = 0;
    assert.equal(await dma(c, 1, 0x700000n, 3000), 0);
    assert.deepEqual(
      c.serverRequests.map((r) => r.count),
      [1024, 1024, 952],
      "the device's DMA_READs keep to the client's 1 KiB",
    );
    // The client stated 1 KiB and asks for more: within our own limit (1 MiB), so it
    // is served (libvfio-user's sample client does this).
    assert.deepEqual(await c.regionRead(0, REG.BUF, 3000), bytes.subarray(0, 3000));
    await rejectsWith(c.regionRead(0, 0, (1 << 20) + 8), E.E2BIG, "beyond our own limit");
  });
});

describe("server: DMA with QEMU's 32-bit DMA_READ/WRITE count", () => {
  it("speaks the qemu layout when configured for it", async () => {
    const dev = await startDevice(["--qemu-layout"]);
    const c = await RawClient.connect(dev.path, { dmaRwLayout: "qemu" });
    await c.enableBusMaster();
    try {
      const bytes = new Uint8Array(0x1000).map((_, i) => 255 - (i & 0xff));
      c.windows.push({ iova: 0x10000n, bytes });
      await map(c, 0x10000n, 0x1000);
      assert.equal(await dma(c, 1, 0x10010n, 8), 0);
      assert.deepEqual([...(await c.regionRead(0, REG.BUF, 8))], [...bytes.subarray(0x10, 0x18)]);
      await c.regionWrite(0, REG.BUF, new Uint8Array([1, 1]));
      assert.equal(await dma(c, 2, 0x10000n, 2), 0);
      assert.deepEqual([...bytes.subarray(0, 2)], [1, 1]);
    } finally {
      c.close();
      await dev.stop();
    }
  });
});
