/**
 * DMA dirty logging over the wire: DEVICE_FEATURE DMA_LOGGING_START/STOP/REPORT and
 * DMA_UNMAP with GET_DIRTY_BITMAP, with the device writing through fd-backed windows
 * (mmapped by the server) and windows reached by DMA_WRITE messages alike.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { type DeviceHandle, VfioUserClient } from "../../src/client/index.js";
import { createDevice, silentLogger, VfioUserServer } from "../../src/server/index.js";
import { MemFd, socketPair } from "../../src/sys/index.js";
import { MigratableDevice } from "./migratable-device.js";

const PAGE = 4096n;
const MAPPED = 0x100000n;
const REMOTE = 0x200000n;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function setup(): Promise<{
  model: MigratableDevice;
  client: VfioUserClient;
  device: DeviceHandle;
}> {
  const model = new MigratableDevice({ migrates: false });
  const server = new VfioUserServer(createDevice(model.definition), { logger: silentLogger });
  const [a, b] = socketPair();
  server.serve(a);
  const client = await VfioUserClient.fromSocket(b, { name: "logging" });
  const ram = MemFd.create("ram", 16 * 4096);
  cleanups.push(async () => {
    await client.close();
    await server.close();
    ram.close();
  });
  const device = client.device;
  await device.config.updateCommand(0x6, 0);
  await device.read32(0, 0); // the model learns its context
  await client.backend.dmaMap({
    iova: MAPPED,
    size: 16n * PAGE,
    read: true,
    write: true,
    fd: ram.fd,
    fdOffset: 0n,
  });
  // A window without an fd: the device's writes travel as DMA_WRITE messages to us.
  const remote = new Uint8Array(8 * 4096);
  client.backend.setDmaHandler({
    dmaRead: (iova, n) => remote.slice(Number(iova - REMOTE), Number(iova - REMOTE) + n),
    dmaWrite: (iova, data) => remote.set(data, Number(iova - REMOTE)),
  });
  await client.backend.dmaMap({
    iova: REMOTE,
    size: 8n * PAGE,
    read: true,
    write: true,
    fd: -1,
    fdOffset: 0n,
  });
  return { model, client, device };
}

function setBits(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bitmap.byteLength * 8; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

describe("DMA dirty logging over vfio-user", () => {
  it("reports the pages the device wrote, in the ranges asked, and clears what it reported", async () => {
    const { model, device } = await setup();
    const m = device.migration;
    const dev = model.dev!;
    await dev.dma.write(MAPPED, Uint8Array.of(1)); // before logging: not reported
    const ps = await m.startDirtyLogging([
      { iova: MAPPED, length: 16n * PAGE },
      { iova: REMOTE, length: 4n * PAGE },
    ]);
    assert.equal(ps, PAGE);
    await dev.dma.write(MAPPED + 3n * PAGE + 10n, new Uint8Array(PAGE_N + 100)); // pages 3 and 4
    await dev.dma.write(REMOTE + 2n * PAGE, Uint8Array.of(9)); // by message, page 2
    await dev.dma.write(REMOTE + 6n * PAGE, Uint8Array.of(9)); // outside the logged ranges
    await dev.dma.read(MAPPED + 8n * PAGE, 64); // reads are not logged
    assert.deepEqual(setBits(await m.dirtyBitmap(MAPPED, 16n * PAGE, PAGE)), [3, 4]);
    assert.deepEqual(
      setBits(await m.dirtyBitmap(MAPPED, 16n * PAGE, PAGE)),
      [],
      "reported pages are cleared",
    );
    // A coarser report page covers the finer dirty page.
    assert.deepEqual(setBits(await m.dirtyBitmap(REMOTE, 8n * PAGE, 4n * PAGE)), [0]);
    await m.stopDirtyLogging();
    await assert.rejects(m.dirtyBitmap(MAPPED, PAGE, PAGE), { code: "EINVAL" });
  });

  it("{ messages: true } reaches a window mapped with an fd by DMA_READ/DMA_WRITE, logged alike", async () => {
    const { model, client, device } = await setup();
    const dev = model.dev!;
    const seen: string[] = [];
    const mirror = new Uint8Array(16 * PAGE_N);
    client.backend.setDmaHandler({
      dmaRead: (iova, n) => {
        seen.push(`read 0x${iova.toString(16)} ${n}`);
        return mirror.slice(Number(iova - MAPPED), Number(iova - MAPPED) + n);
      },
      dmaWrite: (iova, data) => {
        seen.push(`write 0x${iova.toString(16)} ${data.byteLength}`);
        mirror.set(data, Number(iova - MAPPED));
      },
    });
    await device.migration.startDirtyLogging([]);
    await dev.dma.write(MAPPED + 5n * PAGE, Uint8Array.of(1, 2, 3), { messages: true });
    assert.deepEqual(
      [...(await dev.dma.read(MAPPED + 5n * PAGE, 3, { messages: true }))],
      [1, 2, 3],
    );
    assert.deepEqual(
      [...(await dev.dma.read(MAPPED + 5n * PAGE, 3))],
      [0, 0, 0],
      "the fd's memory was not written: the client did the access",
    );
    await dev.dma.writeSegments([{ iova: MAPPED + 7n * PAGE, length: 2 }], Uint8Array.of(4, 5), {
      messages: true,
    });
    assert.deepEqual(seen, [
      `write 0x${(MAPPED + 5n * PAGE).toString(16)} 3`,
      `read 0x${(MAPPED + 5n * PAGE).toString(16)} 3`,
      `write 0x${(MAPPED + 7n * PAGE).toString(16)} 2`,
    ]);
    assert.deepEqual(setBits(await device.migration.dirtyBitmap(MAPPED, 16n * PAGE, PAGE)), [5, 7]);
  });

  it("DMA_UNMAP with GET_DIRTY_BITMAP hands over the window's bitmap; views refuse writes while logging", async () => {
    const { model, client, device } = await setup();
    const m = device.migration;
    const dev = model.dev!;
    await assert.rejects(client.backend.dmaUnmapDirty(MAPPED, 16n * PAGE, PAGE), {
      code: "EINVAL",
    });
    await m.startDirtyLogging([]);
    await assert.rejects(m.startDirtyLogging([]), { code: "EBUSY" });
    assert.throws(() => dev.dma.view(MAPPED, 16, "write"), { code: "EPERM" }); // unsealed memfd
    await dev.dma.writeSegments(
      [
        { iova: MAPPED + PAGE, length: 8 },
        { iova: MAPPED + 9n * PAGE, length: 8 },
      ],
      new Uint8Array(16),
    );
    const bitmap = await client.backend.dmaUnmapDirty(MAPPED, 16n * PAGE, PAGE);
    assert.deepEqual(setBits(bitmap), [1, 9]);
    assert.equal(device.closed, false);
    assert.equal(dev.dma.windows().length, 1, "the window is gone");
  });
});

const PAGE_N = Number(PAGE);
