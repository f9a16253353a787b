/**
 * The client against the real VfioUserServer in another process (test/fixtures/client-device).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Container } from "../../src/client/container.js";
import { IommuOwner } from "../../src/client/iommu-owner.js";
import { VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX } from "../../src/client/vfio-abi.js";
import { VfioUserClient } from "../../src/client/vfio-user-client.js";
import { Errno, VfioError } from "../../src/errors.js";
import { EDQUOT, PasidAllocator } from "../../src/iommu/index.js";
import { PCI_CAP_ID_MSIX, PCI_EXT_CAP_ID_DSN } from "../../src/pci/regs.js";
import {
  CLIENT_DEVICE_ID,
  IRQ_RESULT_CODE,
  CLIENT_REG as R,
} from "../fixtures/client-device-regs.js";
import { isCode } from "../helpers/errors.js";
import { type ServerProcess, startServer } from "./spawn.js";

const FIXTURE = new URL("../fixtures/client-device.js", import.meta.url);

function freshOwner(limit: bigint | "infinity" = "infinity", quota?: number): IommuOwner {
  return new IommuOwner({ memlockLimit: limit, pasids: new PasidAllocator(), pasidQuota: quota });
}

/** Connects, enables memory decoding and bus mastering, as a driver's probe does. */
async function connect(server: ServerProcess, opts = {}) {
  const client = await VfioUserClient.connect(server.path, opts);
  await client.device.config.updateCommand(0x6);
  return client;
}

describe("client against the real server", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(FIXTURE);
  });
  after(async () => {
    await server.stop();
  });

  it("negotiates and opens the device: info, config, capability walk", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      assert.equal(client.session.major, 0);
      assert.ok(d.isPci);
      assert.ok(d.info.numRegions >= 9);
      assert.equal(await d.read32(0, R.ID), CLIENT_DEVICE_ID);
      const caps = await d.config.capabilities();
      assert.ok(caps.standard.some((c) => c.id === PCI_CAP_ID_MSIX));
      assert.ok(caps.extended.some((c) => c.id === PCI_EXT_CAP_ID_DSN));
      assert.deepEqual(caps.problems, []);
    } finally {
      await client.close();
    }
  });

  it("DMA: device writes reach the driver's buffer and driver writes reach the device, fd and message paths", async () => {
    const client = await connect(server);
    const container = new Container({ owner: freshOwner() });
    try {
      const d = client.device;
      const maps = await d.read32(0, R.DMA_MAPS);
      await container.attach(d);
      const buf = await container.allocateBuffer(8192);
      assert.equal(await d.read32(0, R.DMA_MAPS), maps + 1, "the server got the DMA_MAP");

      // Device -> driver (through the memfd the server mmapped).
      await d.write64(0, R.DMA_ADDR, buf.iova + 64n);
      await d.write32(0, R.DMA_LEN, 32);
      await d.write8(0, R.PATTERN, 0x5a);
      await d.write32(0, R.DMA_CMD, 3);
      assert.equal(await d.read32(0, R.DMA_STATUS), 0);
      assert.deepEqual(buf.bytes.subarray(64, 96), new Uint8Array(32).fill(0x5a));
      assert.equal(buf.bytes[96], 0);

      // Driver -> device.
      buf.bytes.set([1, 2, 3, 4, 5, 6, 7, 8], 1000);
      await d.write64(0, R.DMA_ADDR, buf.iova + 1000n);
      await d.write32(0, R.DMA_LEN, 8);
      await d.write32(0, R.DMA_CMD, 1);
      assert.deepEqual(await d.read(0, R.BUF, 8), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));

      // Memory without an fd: served by DMA_READ / DMA_WRITE messages.
      const mem = new Uint8Array(8192);
      await container.mapMemory(0x4000_0000n, mem, "rw");
      await d.write64(0, R.DMA_ADDR, 0x4000_1000n);
      await d.write32(0, R.DMA_LEN, 16);
      await d.write8(0, R.PATTERN, 0xc3);
      await d.write32(0, R.DMA_CMD, 3);
      assert.equal(await d.read32(0, R.DMA_STATUS), 0);
      assert.deepEqual(mem.subarray(0x1000, 0x1010), new Uint8Array(16).fill(0xc3));
      mem.set([9, 8, 7], 0x1ffd);
      await d.write64(0, R.DMA_ADDR, 0x4000_1ffdn);
      await d.write32(0, R.DMA_LEN, 3);
      await d.write32(0, R.DMA_CMD, 1);
      assert.deepEqual(await d.read(0, R.BUF, 3), Uint8Array.of(9, 8, 7));

      // Read-only memory: the device's write faults (EFAULT comes back to it).
      const ro = new Uint8Array(4096);
      await container.mapMemory(0x5000_0000n, ro, "r");
      await d.write64(0, R.DMA_ADDR, 0x5000_0000n);
      await d.write32(0, R.DMA_LEN, 4);
      await d.write32(0, R.DMA_CMD, 3);
      assert.equal(await d.read32(0, R.DMA_STATUS), Errno.EFAULT);
      assert.deepEqual(ro.subarray(0, 4), new Uint8Array(4));
    } finally {
      await container.close();
      await client.close();
    }
  });

  it("two devices in one container share its mappings: one device's DMA is seen by the other", async () => {
    const second = await startServer(FIXTURE);
    const a = await connect(server);
    const b = await connect(second);
    const container = new Container({ owner: freshOwner() });
    try {
      await container.attach(a.device);
      await container.attach(b.device);
      const buf = await container.allocateBuffer(4096);
      const mem = new Uint8Array(4096);
      await container.mapMemory(0x6000_0000n, mem, "rw");
      // A writes into both windows; B reads them back.
      for (const iova of [buf.iova + 8n, 0x6000_0008n]) {
        await a.device.write64(0, R.DMA_ADDR, iova);
        await a.device.write32(0, R.DMA_LEN, 4);
        await a.device.write8(0, R.PATTERN, 0xe7);
        await a.device.write32(0, R.DMA_CMD, 3);
        await b.device.write64(0, R.DMA_ADDR, iova);
        await b.device.write32(0, R.DMA_LEN, 4);
        await b.device.write32(0, R.DMA_CMD, 1);
        assert.deepEqual(await b.device.read(0, R.BUF, 4), new Uint8Array(4).fill(0xe7));
      }
      assert.deepEqual(buf.bytes.subarray(8, 12), new Uint8Array(4).fill(0xe7));
      assert.deepEqual(mem.subarray(8, 12), new Uint8Array(4).fill(0xe7));
      await buf.free();
      await b.device.write64(0, R.DMA_ADDR, buf.iova);
      await b.device.write32(0, R.DMA_CMD, 1);
      assert.equal(
        await b.device.read32(0, R.DMA_STATUS),
        Errno.EFAULT,
        "unmapped on every device",
      );
    } finally {
      await container.close();
      await a.close();
      await b.close();
      await second.stop();
    }
  });

  it("twin-socket mode: the server's DMA requests arrive on the second socket", async () => {
    const client = await connect(server, { twinSocket: true });
    const container = new Container({ owner: freshOwner() });
    try {
      assert.equal(client.session.twinSocket, true);
      const d = client.device;
      await container.attach(d);
      const mem = new Uint8Array(4096);
      await container.mapMemory(0x7000_0000n, mem, "rw");
      await d.write64(0, R.DMA_ADDR, 0x7000_0100n);
      await d.write32(0, R.DMA_LEN, 8);
      await d.write8(0, R.PATTERN, 0x3c);
      await d.write32(0, R.DMA_CMD, 3);
      assert.equal(await d.read32(0, R.DMA_STATUS), 0);
      assert.deepEqual(mem.subarray(0x100, 0x108), new Uint8Array(8).fill(0x3c));
    } finally {
      await container.close();
      await client.close();
    }
  });

  it("an MSI-X vector raised by the device reaches that vector's iterator only", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      const vecs = await d.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX);
      assert.equal(vecs.length, 8);
      const events: number[] = [];
      d.on("irq", (ev) => events.push(ev.vector));
      const it5 = vecs[5]![Symbol.asyncIterator]();
      const next = it5.next();
      await d.write32(0, R.IRQ_TRIGGER, 5);
      assert.deepEqual(await next, { done: false, value: 1 });
      await d.write32(0, R.IRQ_TRIGGER, 2);
      assert.equal(await vecs[2]!.wait(), 1);
      assert.deepEqual(events, [5, 2]);
      assert.equal(vecs[5]!.pending + vecs[0]!.total + vecs[7]!.total, 0);
      await d.irqs.disable(VFIO_PCI_MSIX_IRQ_INDEX);
      assert.deepEqual(await it5.next(), { done: true, value: undefined });
    } finally {
      await client.close();
    }
  });

  it("INTx is automasked: a second interrupt stays pending until the driver unmasks", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      const [intx] = await d.irqs.enable(VFIO_PCI_INTX_IRQ_INDEX);
      await assert.rejects(d.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX), /disable it first/);
      await d.write32(0, R.IRQ_TRIGGER, 0);
      assert.equal(await d.read32(0, R.IRQ_RESULT), IRQ_RESULT_CODE.delivered);
      assert.equal(await intx!.wait(), 1);
      await d.write32(0, R.IRQ_TRIGGER, 0);
      assert.equal(await d.read32(0, R.IRQ_RESULT), IRQ_RESULT_CODE.pending, "masked until unmask");
      await intx!.unmask();
      assert.equal(await intx!.wait(), 1, "the pending interrupt arrives after unmask");
      await d.irqs.disable(VFIO_PCI_INTX_IRQ_INDEX);
      await d.write32(0, R.IRQ_TRIGGER, 0);
      assert.equal(await d.read32(0, R.IRQ_RESULT), IRQ_RESULT_CODE.dropped);
    } finally {
      await client.close();
    }
  });

  it("a zapped BAR mapping throws until memory decoding is enabled again", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      const bar = await d.mmap(4);
      bar.write32(0x40, 0xa5a5a5a5);
      const stale = bar.windows[0]!.buffer;
      await d.config.enableMemory(false);
      assert.equal(stale.byteLength, 0);
      assert.throws(
        () => bar.read32(0x40),
        (e: unknown) => isCode("EIO")(e) && /PCI_COMMAND_MEMORY/.test(String(e)),
      );
      await assert.rejects(d.read32(4, 0x40), isCode("EIO"), "the server blocks it too");
      await d.config.enableMemory(true);
      assert.equal(bar.read32(0x40), 0xa5a5a5a5);
      assert.equal(await d.read32(4, 0x40), 0xa5a5a5a5, "same memory over the socket");
      const beforeReset = bar.windows[0]!.buffer;
      await d.reset();
      assert.equal(beforeReset.byteLength, 0, "reset zapped the mapping");
      const memOn = ((await d.config.read16(4)) & 2) !== 0;
      assert.equal(d.memoryEnabled, memOn, "the memory bit was re-read after reset");
      if (memOn) assert.equal(bar.read32(0x44), 0);
      else assert.throws(() => bar.read32(0x40), /PCI_COMMAND_MEMORY/);
    } finally {
      await client.close();
    }
  });

  it("the memlock limit refuses a mapping with ENOMEM naming the limit; the server never sees it", async () => {
    const client = await connect(server);
    const container = new Container({ owner: freshOwner(1n << 16n) });
    try {
      const d = client.device;
      await container.attach(d);
      const maps = await d.read32(0, R.DMA_MAPS);
      await assert.rejects(
        container.allocateBuffer(1 << 17),
        (e: unknown) =>
          isCode("ENOMEM")(e) && /RLIMIT_MEMLOCK/.test(String(e)) && /65536 bytes/.test(String(e)),
      );
      assert.equal(await d.read32(0, R.DMA_MAPS), maps);
      await container.allocateBuffer(1 << 16);
      assert.equal(await d.read32(0, R.DMA_MAPS), maps + 1);
    } finally {
      await container.close();
      await client.close();
    }
  });

  it("PASIDs: quota shared by an owner's containers and range free", async () => {
    const client = await connect(server);
    const owner = freshOwner("infinity", 4);
    const c1 = new Container({ owner });
    const c2 = new Container({ owner });
    try {
      await c1.attach(client.device);
      const got = [
        c1.allocPasid(1, 100),
        c1.allocPasid(1, 100),
        c2.allocPasid(50, 60),
        c2.allocPasid(1, 100),
      ];
      assert.deepEqual(got, [1, 2, 50, 3]);
      assert.throws(
        () => c1.allocPasid(1, 100),
        (e: unknown) => e instanceof VfioError && e.errno === EDQUOT,
      );
      assert.deepEqual(c2.freePasids(2, 50), [2, 3, 50]);
      assert.equal(c1.allocPasid(40, 100), 40);
      assert.deepEqual(c1.freePasids(0, 0xffffffff), [1, 40]);
      assert.equal(owner.pasidCount, 0);
    } finally {
      await c1.close();
      await c2.close();
      await client.close();
    }
  });
});

describe("client against a server with small limits", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(FIXTURE, ["--max-xfer", "4096", "--max-msg-fds", "3"]);
  });
  after(async () => {
    await server.stop();
  });

  it("splits large region accesses by the server's max_data_xfer_size", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      assert.equal(d.backend.limits.maxDataXferSize, 4096);
      const data = new Uint8Array(70000).map((_, i) => (i * 31) & 0xff);
      const callsBefore = await d.read32(0, R.BIG_CALLS);
      await d.write(2, 1000, data);
      const back = await d.read(2, 1000, 70000);
      assert.deepEqual(back, data);
      const calls = (await d.read32(0, R.BIG_CALLS)) - callsBefore;
      assert.equal(calls, 2 * Math.ceil(70000 / 4096));
      assert.equal(await d.read32(0, R.BIG_MAX), 4096);
    } finally {
      await client.close();
    }
  });

  it("sends at most max_msg_fds eventfds per SET_IRQS and every vector still works", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      assert.equal(d.backend.limits.maxMsgFds, 3);
      const vecs = await d.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX);
      assert.equal(vecs.length, 8);
      await d.write32(0, R.IRQ_TRIGGER, 7);
      assert.equal(await vecs[7]!.wait(), 1);
      await d.write32(0, R.IRQ_TRIGGER, 0);
      assert.equal(await vecs[0]!.wait(), 1);
    } finally {
      await client.close();
    }
  });
});

describe("server disconnect", () => {
  it("rejects pending requests with a clear error and emits disconnect", async () => {
    const server = await startServer(FIXTURE);
    try {
      const client = await connect(server);
      const d = client.device;
      const disconnected = new Promise<Error>((resolve) => d.once("disconnect", resolve));
      const errors: Error[] = [];
      d.on("error", (e) => errors.push(e));
      const hung = d.write32(0, R.HANG, 1);
      const queued = d.read32(0, R.ID);
      server.child.kill("SIGKILL");
      for (const p of [hung, queued]) {
        await assert.rejects(
          p,
          (e: unknown) => e instanceof VfioError && /disconnected/.test(e.message),
        );
      }
      const err = await disconnected;
      assert.match(err.message, /vfio-user server disconnected/);
      assert.equal(errors.length, 1);
      await assert.rejects(d.read32(0, R.ID), isCode("ENOTCONN"));
      await client.close();
    } finally {
      await server.stop();
    }
  });

  it("a server that dies mid-request fails that request", async () => {
    const server = await startServer(FIXTURE);
    try {
      const client = await connect(server);
      await assert.rejects(client.device.write32(0, R.DIE, 1), /disconnected/);
      assert.equal(await server.exited, 3);
      assert.notEqual(client.device.disconnectError, null);
      await client.close();
    } finally {
      await server.stop();
    }
  });
});
