import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Command } from "../../src/protocol/index.js";
import { closeFd, connectUnix, EventFd, MemFd } from "../../src/sys/index.js";
import { DEVICE_ID_VALUE, REG } from "../fixtures/test-device-regs.js";
import { type DeviceProcess, startDevice } from "./harness.js";
import { E, rejectsWith } from "./helpers.js";
import { le, RawClient } from "./raw-client.js";

const RW = 3;

describe("server: clients come and go (device in another process)", () => {
  let dev: DeviceProcess;
  let efd: EventFd;
  let ram: MemFd;
  let baseline = 0;
  before(async () => {
    dev = await startDevice(["--refuse-timeout", "150"]);
    efd = EventFd.create();
    ram = MemFd.create("cycle-ram", 0x10000);
    // One full cycle first, so lazily created descriptors exist before we count.
    await cycle();
    baseline = await dev.stableFds();
  });
  after(async () => {
    efd.close();
    ram.close();
    await dev.stop();
  });

  /** Connect, set up interrupts and DMA, touch the device, disconnect. */
  async function cycle(): Promise<void> {
    const c = await RawClient.connect(dev.path);
    await c.call(
      Command.VFIO_USER_DEVICE_SET_IRQS,
      { argsz: 20, action: "trigger", data: "eventfd", index: 2, start: 0, count: 1 },
      { fds: [efd.fd] },
    );
    await c.call(
      Command.VFIO_USER_DMA_MAP,
      { argsz: 32, flags: RW, offset: 0n, address: 0x100000n, size: 0x10000n },
      { fds: [ram.fd] },
    );
    const info = await c.call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, { argsz: 64, index: 2 });
    assert.equal(info.fds.length, 1);
    for (const fd of info.fds) closeFd(fd);
    assert.equal(await c.read32(0, REG.ID), DEVICE_ID_VALUE);
    c.close();
    await c.closed();
  }

  const mappings = () =>
    readFileSync(`/proc/${dev.pid}/maps`, "utf8")
      .split("\n")
      .filter((l) => l.includes("cycle-ram")).length;
  const settleMappings = async (n: number): Promise<number> => {
    const end = Date.now() + 3000;
    let now = mappings();
    while (now !== n && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
      now = mappings();
    }
    return now;
  };

  it("refuses a second client with EBUSY instead of hanging, then serves the next", async () => {
    const first = await RawClient.connect(dev.path);
    const second = await RawClient.connect(dev.path, { skipVersion: true });
    await rejectsWith(second.version(), E.EBUSY, "second client");
    await second.closed();
    const silent = connectUnix(dev.path); // sends nothing: closed after the refuse timeout
    const gone = await new Promise<boolean>((resolve) => {
      const buf = new Uint8Array(16);
      const t = setTimeout(() => resolve(false), 2000);
      silent.onReadable(() => {
        if (silent.recv(buf, 0)?.bytes === 0) {
          clearTimeout(t);
          resolve(true);
        }
      });
    });
    silent.close();
    assert.equal(gone, true, "a silent refused client is closed");
    await first.write32(0, REG.SCRATCH, 0x5eed);
    const patient = await RawClient.connect(dev.path, { skipVersion: true });
    const detached = dev.outputCount(/^detached$/gm);
    first.close();
    await first.closed();
    // The server has torn the first client down (its onDetach ran): the patient, which
    // connected while it was busy, is served next.
    await dev.waitOutput(/^detached$/gm, detached + 1);
    await patient.version();
    assert.equal(await patient.read32(0, REG.SCRATCH), 0x5eed, "device state survives the client");
    await new Promise((r) => setTimeout(r, 300)); // twice the refuse timeout
    assert.equal(await patient.read32(0, REG.SCRATCH), 0x5eed, "admitted later, still connected");
    patient.close();
    await patient.closed();
    assert.equal(await dev.settleFds(baseline), baseline);
  });

  it("releases eventfds, DMA mappings and the twin socket on disconnect", async () => {
    const c = await RawClient.connect(dev.path, {
      capabilities: { twinSocket: { supported: true } },
    });
    assert.equal(c.negotiated?.capabilities?.twinSocket?.supported, true);
    assert.equal(c.twinFds.length, 1);
    await c.enableBusMaster();
    const efds = Array.from({ length: 8 }, () => EventFd.create());
    await c.call(
      Command.VFIO_USER_DEVICE_SET_IRQS,
      { argsz: 20, action: "trigger", data: "eventfd", index: 2, start: 0, count: 8 },
      { fds: efds.map((e) => e.fd) },
    );
    await c.call(
      Command.VFIO_USER_DMA_MAP,
      { argsz: 32, flags: RW, offset: 0n, address: 0x100000n, size: 0x10000n },
      { fds: [ram.fd] },
    );
    const bytes = new Uint8Array(0x1000).fill(3);
    c.windows.push({ iova: 0x200000n, bytes });
    await c.call(Command.VFIO_USER_DMA_MAP, {
      argsz: 32,
      flags: RW,
      offset: 0n,
      address: 0x200000n,
      size: 0x1000n,
    });
    await c.regionWrite(0, REG.DMA_ADDR, le(0x200000, 4));
    await c.regionWrite(0, REG.DMA_ADDR + 4, le(0, 4));
    await c.write32(0, REG.DMA_LEN, 4);
    await c.write32(0, REG.DMA_CMD, 1);
    assert.equal(await c.read32(0, REG.DMA_STATUS), 0, "DMA_READ over the twin socket");
    assert.equal(c.serverRequests.length, 1);
    assert.ok(dev.fdCount() > baseline + 8, "the server holds the eventfds and the twin socket");
    assert.equal(mappings(), 1, "guest RAM is mapped, its fd already closed");
    const detaches = await c.read32(0, REG.DETACH_COUNT);
    c.close();
    await c.closed();
    for (const e of efds) e.close();
    assert.equal(await dev.settleFds(baseline), baseline);
    // The windows are unmapped after the fds close (once in-flight DMA is idle).
    assert.equal(await settleMappings(0), 0, "no mapping left behind");
    const next = await RawClient.connect(dev.path);
    assert.equal(await next.read32(0, REG.DETACH_COUNT), detaches + 1);
    await next.write32(0, REG.IRQ_TRIGGER, 0);
    assert.equal(await next.read32(0, REG.IRQ_RESULT), 2, "interrupts are not carried over");
    await next.regionWrite(0, REG.DMA_ADDR, le(0x100000, 4));
    await next.write32(0, REG.DMA_CMD, 1);
    assert.equal(
      await next.read32(0, REG.DMA_STATUS),
      E.EFAULT,
      "DMA windows are not carried over",
    );
    next.close();
    await next.closed();
  });

  it("survives clients that vanish mid-request, leaving nothing behind", async () => {
    const slow = await RawClient.connect(dev.path);
    slow.post(Command.VFIO_USER_REGION_WRITE, {
      region: 0,
      offset: BigInt(REG.SLOW),
      data: le(1, 4),
    });
    slow.close();

    const dmaing = await RawClient.connect(dev.path);
    await dmaing.enableBusMaster();
    dmaing.windows.push({ iova: 0x200000n, bytes: new Uint8Array(0x1000) });
    dmaing.hold = new Promise(() => {}); // never answers DMA_READ
    await dmaing.call(Command.VFIO_USER_DMA_MAP, {
      argsz: 32,
      flags: RW,
      offset: 0n,
      address: 0x200000n,
      size: 0x1000n,
    });
    await dmaing.call(
      Command.VFIO_USER_DMA_MAP,
      { argsz: 32, flags: RW, offset: 0n, address: 0x100000n, size: 0x10000n },
      { fds: [ram.fd] },
    );
    await dmaing.regionWrite(0, REG.DMA_ADDR, le(0x200000, 4));
    await dmaing.write32(0, REG.DMA_LEN, 16);
    dmaing.post(Command.VFIO_USER_REGION_WRITE, {
      region: 0,
      offset: BigInt(REG.DMA_CMD),
      data: le(1, 4),
    });
    while (dmaing.serverRequests.length === 0) await new Promise((r) => setTimeout(r, 2));
    dmaing.close();

    const c = await RawClient.connect(dev.path);
    const status = await c.read32(0, REG.DMA_STATUS);
    assert.ok(status !== 0, `the interrupted DMA failed (errno ${status})`);
    assert.equal(await c.read32(0, REG.ID), DEVICE_ID_VALUE);
    c.close();
    await c.closed();
    assert.equal(await dev.settleFds(baseline), baseline);
    assert.equal(mappings(), 0);
  });

  it("keeps its descriptor count through 1000 connect/use/disconnect cycles", async () => {
    for (let i = 0; i < 1000; i++) await cycle();
    assert.equal(await dev.settleFds(baseline), baseline);
    assert.equal(mappings(), 0);
  });
});
