import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLoopback } from "../../src/client/index.js";
import { type EduDevice, instantiateBuiltinDevice } from "../../src/devices/index.js";
import { dmaRoundTrip, freeIova } from "../../src/drivers/edu/dma-roundtrip.js";
import { EduDriver, type EduDriverOptions } from "../../src/drivers/edu/driver.js";
import { factorial32 } from "../../src/harness/edu-demo.js";
import { isCode, pattern } from "./edu-helpers.js";

/** The driver over the in-process loopback backend, with the device model at hand. */
async function withEdu(
  options: EduDriverOptions,
  fn: (driver: EduDriver, edu: EduDevice) => Promise<void>,
) {
  const { device, control } = instantiateBuiltinDevice("edu");
  const handle = await openLoopback(device);
  try {
    const driver = await EduDriver.open(handle, options);
    try {
      await fn(driver, control);
    } finally {
      await driver.close();
    }
  } finally {
    await handle.close();
    device.close();
  }
}

describe("edu driver over the loopback backend", () => {
  it("probes, checks liveness and computes factorials by MSI", async () => {
    await withEdu({}, async (driver, edu) => {
      assert.equal(driver.device.backend.kind, "loopback");
      assert.equal(driver.identity.idRegister, 0x010000ed);
      assert.equal(driver.irqMode, "msi");
      assert.equal(await driver.checkLiveness(), true);
      for (let n = 0; n <= 12; n++) assert.equal(await driver.factorial(n), factorial32(n));
      assert.equal(driver.irqCounts.factorial, 13);
      assert.equal(edu.irqStatus, 0, "every interrupt was acknowledged");
    });
  });

  it("RAM -> device puts the bytes in the device buffer; device -> RAM brings the buffer back", async () => {
    await withEdu({}, async (driver, edu) => {
      const buf = await driver.container.allocateBuffer(8192);
      try {
        const data = pattern(300, 40);
        buf.bytes.set(data, 0);
        await driver.dmaToDevice(buf.iova, 300, 100);
        assert.deepEqual(edu.buffer.subarray(100, 400), data, "device buffer holds what RAM held");

        edu.buffer.set(pattern(64, 41), 2000);
        await driver.dmaFromDevice(buf.iova + 4096n + 8n, 64, 2000);
        assert.deepEqual(buf.bytes.subarray(4096 + 8, 4096 + 72), pattern(64, 41));
        assert.equal(buf.bytes[4096 + 7], 0, "nothing written before the target");
      } finally {
        await buf.free();
      }
      assert.equal(edu.dmaErrors, 0);
    });
  });

  it("the fd-less path moves the same bytes through DMA_READ/DMA_WRITE", async () => {
    await withEdu({}, async (driver, edu) => {
      const mem = new Uint8Array(4096);
      const iova = freeIova(driver.container, 4096n, 1n << 28n);
      const mapping = await driver.container.mapMemory(iova, mem, "rw");
      try {
        mem.set(pattern(512, 42), 0);
        await driver.dmaToDevice(iova, 512);
        assert.deepEqual(edu.buffer.subarray(0, 512), pattern(512, 42));
        edu.buffer.set(pattern(128, 43), 3000);
        await driver.dmaFromDevice(iova + 1024n, 128, 3000);
        assert.deepEqual(mem.subarray(1024, 1152), pattern(128, 43));
      } finally {
        await mapping.unmap();
      }
      assert.equal((await dmaRoundTrip(driver, pattern(4096, 44), "message")).ok, true);
      assert.equal(driver.irqCounts.dma, 4);
    });
  });

  it("a DMA to IOVA the container never mapped still completes; the device records the IOMMU fault", async () => {
    await withEdu({}, async (driver, edu) => {
      await driver.dmaFromDevice(0x0800_0000n, 16);
      assert.equal(edu.dmaErrors, 1);
      assert.match(edu.lastDmaError ?? "", /RAM access/);
      assert.equal(driver.irqCounts.dma, 1);
    });
  });

  it("works with INTx as well", async () => {
    await withEdu({ irqMode: "intx" }, async (driver) => {
      assert.equal(driver.irqMode, "intx");
      assert.equal(await driver.factorial(10), 3628800);
      assert.equal((await dmaRoundTrip(driver, pattern(1000, 45), "fd")).ok, true);
      assert.deepEqual([driver.irqCounts.factorial, driver.irqCounts.dma], [1, 2]);
    });
  });

  it("probe refuses a device that is not an edu (ENODEV) and leaves it alone", async () => {
    const { device } = instantiateBuiltinDevice("gpio");
    const handle = await openLoopback(device);
    try {
      await assert.rejects(EduDriver.probe(handle), isCode("ENODEV"));
      await assert.rejects(EduDriver.open(handle), isCode("ENODEV"));
      assert.deepEqual(handle.irqs.enabledIndexes(), []);
      assert.equal(handle.container, undefined);
    } finally {
      await handle.close();
      device.close();
    }
  });

  it("a completion that never comes times out with ETIMEDOUT instead of hanging", async () => {
    await withEdu({ timeoutMs: 50 }, async (driver) => {
      await assert.rejects(driver.interrupts.expect(0x8000_0000, 50), isCode("ETIMEDOUT"));
      assert.equal(await driver.factorial(4), 24, "the driver still works afterwards");
    });
  });
});
