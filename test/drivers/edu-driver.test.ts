import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { crc32 } from "node:zlib";
import type { VfioUserClient } from "../../src/client/index.js";
import { dmaRoundTrip, freeIova } from "../../src/drivers/edu/dma-roundtrip.js";
import type { EduDriver } from "../../src/drivers/edu/driver.js";
import { factorial32 } from "../../src/harness/edu-demo.js";
import type { ServerProcess } from "../../src/harness/server-process.js";
import { isCode, openDriver, pattern, startEduServer } from "./edu-helpers.js";

// One server process for the file; each describe connects its own client in turn
// (the server serves one client at a time and takes the next once the last left).
let server: ServerProcess;
let firstSocket: Awaited<ReturnType<typeof startEduServer>>["first"] | undefined;

before(async () => {
  const s = await startEduServer();
  server = s.server;
  firstSocket = s.first;
});

after(async () => {
  firstSocket?.close();
  const path = server.path;
  await server.stop();
  assert.equal(server.exited, true, "the server process is gone");
  assert.equal(existsSync(path), false, "the socket file is removed");
});

function takeFirst() {
  const s = firstSocket;
  firstSocket = undefined;
  return s;
}

describe("edu driver over a vfio-user socket to a server process (MSI)", () => {
  let client: VfioUserClient;
  let driver: EduDriver;
  let close: () => Promise<void>;

  before(async () => {
    ({ client, driver, close } = await openDriver(server, {}, takeFirst()));
  });
  after(async () => {
    await close();
  });

  it("probes the device: ids in config space and the identification register", () => {
    const id = driver.identity;
    assert.equal(id.vendorId, 0x1234);
    assert.equal(id.deviceId, 0x11e8);
    assert.equal(id.idRegister & 0xff, 0xed);
    assert.equal(id.major, 1);
    assert.equal(id.minor, 0);
    assert.equal(client.device.memoryEnabled, true);
  });

  it("chooses MSI, since edu has an MSI capability", () => {
    assert.equal(driver.irqMode, "msi");
  });

  it("passes the liveness check", async () => {
    assert.equal(await driver.checkLiveness(), true);
    assert.equal(await driver.checkLiveness([0xdeadbeef, 1]), true);
  });

  it("computes 0! .. 12! with interrupt completion, one interrupt each", async () => {
    const before = driver.irqCounts.factorial;
    for (let n = 0; n <= 12; n++) assert.equal(await driver.factorial(n), factorial32(n), `${n}!`);
    assert.equal(await driver.factorial(12), 479001600);
    assert.equal(driver.irqCounts.factorial - before, 14);
  });

  it("wraps like the device's 32-bit arithmetic (13!, 33!, 34!)", async () => {
    assert.equal(await driver.factorial(13), 6227020800 % 2 ** 32);
    assert.equal(await driver.factorial(33), factorial32(33));
    assert.equal(await driver.factorial(34), 0);
  });

  it("DMAs both directions through a container buffer (fd-backed)", async () => {
    const before = driver.irqCounts.dma;
    for (const [n, seed] of [
      [4096, 1],
      [1, 2],
      [777, 3],
    ] as const) {
      const data = pattern(n, seed);
      const r = await dmaRoundTrip(driver, data, "fd");
      assert.equal(r.ok, true, `${n} bytes`);
      assert.equal(r.sentCrc32, crc32(data));
      assert.equal(r.returnedCrc32, r.sentCrc32);
    }
    assert.equal(driver.irqCounts.dma - before, 6, "one completion interrupt per transfer");
  });

  it("DMAs both directions through fd-less memory (DMA_READ/DMA_WRITE messages)", async () => {
    const data = pattern(4096, 9);
    const r = await dmaRoundTrip(driver, data, "message");
    assert.equal(r.path, "message");
    assert.equal(r.ok, true);
    assert.equal(r.returnedCrc32, crc32(data));
    const part = await dmaRoundTrip(driver, pattern(100, 10), "message", 4096 - 100);
    assert.equal(part.ok, true, "at the end of the device buffer");
  });

  it("keeps what the device buffer held: a later device->RAM DMA returns it", async () => {
    const data = pattern(256, 11);
    const buf = await driver.container.allocateBuffer(4096);
    try {
      buf.bytes.set(data);
      await driver.dmaToDevice(buf.iova, 256, 1024);
      const mem = new Uint8Array(4096);
      const iova = freeIova(driver.container, 4096n);
      const m = await driver.container.mapMemory(iova, mem, "w");
      await driver.dmaFromDevice(iova + 16n, 256, 1024);
      await m.unmap();
      assert.deepEqual(mem.subarray(16, 16 + 256), data);
      assert.equal(mem[15], 0);
      assert.equal(mem[16 + 256], 0);
    } finally {
      await buf.free();
    }
  });

  it("runs factorials and DMAs concurrently; each completion reaches its waiter", async () => {
    const facts = [5, 6, 7, 8, 9, 10].map((n) => driver.factorial(n));
    const dmas = [1, 2, 3].map((s) => dmaRoundTrip(driver, pattern(512, 20 + s), "fd", s * 1024));
    const values = await Promise.all(facts);
    assert.deepEqual(values, [120, 720, 5040, 40320, 362880, 3628800]);
    for (const r of await Promise.all(dmas)) assert.equal(r.ok, true);
  });

  it("counts software interrupts raised through the raise register", async () => {
    const before = driver.irqCounts;
    const status = await driver.raise(0x1000);
    assert.equal(status & 0x1000, 0x1000);
    await driver.raise(0x30000);
    const after = driver.irqCounts;
    assert.equal(after.raised - before.raised, 2);
    assert.equal(after.factorial, before.factorial);
    assert.ok(after.wakeups >= before.wakeups + 2);
    assert.ok(after.triggers >= after.wakeups);
  });

  it("refuses DMA the engine cannot do, before touching the device", async () => {
    await assert.rejects(driver.dmaToDevice(0x1000n, 0), isCode("EINVAL"));
    await assert.rejects(driver.dmaToDevice(0x1000n, 4097), isCode("EINVAL"));
    await assert.rejects(driver.dmaFromDevice(0x1000n, 16, 4090), isCode("EINVAL"));
    await assert.rejects(
      driver.dmaToDevice(1n << 28n, 16),
      isCode("EINVAL"),
      "beyond 28 address bits",
    );
    await assert.rejects(driver.factorial(-1), isCode("EINVAL"));
    await assert.rejects(driver.raise(0), isCode("EINVAL"));
  });
});

describe("edu driver with INTx (automasked, unmasked after each interrupt)", () => {
  let driver: EduDriver;
  let close: () => Promise<void>;

  before(async () => {
    ({ driver, close } = await openDriver(server, { irqMode: "intx" }));
  });
  after(async () => {
    await close();
  });

  it("uses INTx and completes factorials and DMA by interrupt", async () => {
    assert.equal(driver.irqMode, "intx");
    for (let n = 0; n <= 12; n++) assert.equal(await driver.factorial(n), factorial32(n));
    assert.equal((await dmaRoundTrip(driver, pattern(2048, 30), "fd")).ok, true);
    assert.equal((await dmaRoundTrip(driver, pattern(2048, 31), "message")).ok, true);
    const c = driver.irqCounts;
    assert.equal(c.factorial, 13);
    assert.equal(c.dma, 4);
  });

  it("re-arms the line: many interrupts in a row are all delivered", async () => {
    const before = driver.irqCounts.raised;
    for (let i = 0; i < 20; i++) await driver.raise((1 << (8 + (i % 8))) << 8);
    assert.equal(driver.irqCounts.raised - before, 20);
  });
});

describe("edu driver close", () => {
  it("disables the interrupt, releases the container and refuses further work", async () => {
    const { client, driver, close } = await openDriver(server);
    await driver.factorial(3);
    const vector = driver.interrupts.vector;
    await driver.close();
    assert.equal(vector.closed, true);
    assert.deepEqual(client.device.irqs.enabledIndexes(), []);
    assert.equal(driver.container.closed, true, "the private container is closed");
    await assert.rejects(driver.factorial(3), isCode("EBADF"));
    await driver.close(); // idempotent
    await close();
    assert.equal(client.device.closed, true);
  });

  it("a device that disappears fails pending waits instead of hanging", async () => {
    const { client, driver, close } = await openDriver(server, { timeoutMs: 0 });
    const pending = driver.interrupts.expect(0x4000_0000, 0);
    await client.close();
    await assert.rejects(pending, isCode("ECANCELED"));
    await close().catch(() => {});
  });
});
