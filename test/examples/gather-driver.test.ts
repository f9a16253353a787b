// How a driver author tests a driver without sockets: examples/gather-driver.ts against
// examples/gather-device.ts in this process, over the loopback backend. openLoopback()
// gives the same DeviceHandle a socket client gets (same protocol code, real memfds for
// the DMA buffers), joined by an in-memory stream instead of a socket file and a server
// process, so every test gets a fresh device in a few milliseconds.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  Container,
  type DeviceHandle,
  type IrqEvent,
  openLoopback,
  type PciDevice,
  VFIO_PCI_MSIX_IRQ_INDEX,
} from "vfio-ts";
import counterDevice from "../../examples/counter-device.js";
import gatherDevice, { GATHER_ERROR_VECTOR } from "../../examples/gather-device.js";
import { GatherDriver, type Segment } from "../../examples/gather-driver.js";

describe("GatherDriver over the loopback backend", () => {
  let device: PciDevice;
  let dev: DeviceHandle;
  let container: Container;
  let driver: GatherDriver;
  let irqs: IrqEvent[];

  beforeEach(async () => {
    device = gatherDevice();
    dev = await openLoopback(device);
    container = new Container();
    driver = await GatherDriver.open(dev, container);
    irqs = [];
    dev.on("irq", (ev) => irqs.push(ev));
  });

  afterEach(async () => {
    await driver.close();
    await container.close();
    await dev.close(); // stops the in-process server
    device.close(); // the device is the test's to close
  });

  /** Buffers filled with `parts`, each at its own IOVA, as the device's segments. */
  async function sources(parts: readonly Uint8Array[]): Promise<Segment[]> {
    const out: Segment[] = [];
    for (const part of parts) {
      const buf = await container.allocateBuffer(part.length);
      buf.bytes.set(part);
      out.push({ iova: buf.iova, length: part.length });
    }
    return out;
  }

  it("gathers the segments in order and completes on the vector it was asked for", async () => {
    const parts = [1000, 1, 4096, 33].map((n, i) => new Uint8Array(n).fill(i + 1));
    const segments = await sources(parts);
    const dest = await container.allocateBuffer(8192);
    for (const vector of [2, 0, 1]) {
      dest.bytes.fill(0);
      assert.equal(await driver.gather(segments, dest.iova, vector), 5130);
      assert.deepEqual(dest.bytes.subarray(0, 5130), new Uint8Array(Buffer.concat(parts)));
      assert.equal(dest.bytes[5130], 0, "nothing past the gathered bytes");
      assert.deepEqual(irqs.splice(0), [{ index: VFIO_PCI_MSIX_IRQ_INDEX, vector, count: 1 }]);
    }
  });

  it("reaches memory mapped without an fd, through DMA_READ and DMA_WRITE messages", async () => {
    const src = new Uint8Array(4096).fill(0x5a);
    const dst = new Uint8Array(4096);
    await container.mapMemory(0x4000_0000n, src, "r");
    await container.mapMemory(0x5000_0000n, dst, "rw");
    const segments = [
      { iova: 0x4000_0100n, length: 16 },
      { iova: 0x4000_0f00n, length: 256 },
    ];
    assert.equal(await driver.gather(segments, 0x5000_0000n), 272);
    assert.deepEqual(dst.subarray(0, 272), new Uint8Array(272).fill(0x5a));
    assert.equal(dst[272], 0, "nothing past the gathered bytes");
  });

  it("a segment outside the DMA windows fails with EFAULT on the error vector", async () => {
    const dest = await container.allocateBuffer(4096);
    const [good] = await sources([new Uint8Array([7, 8, 9])]);
    await assert.rejects(driver.gather([good!, { iova: 1n << 40n, length: 8 }], dest.iova), {
      code: "EFAULT",
    });
    assert.deepEqual(irqs.splice(0), [
      { index: VFIO_PCI_MSIX_IRQ_INDEX, vector: GATHER_ERROR_VECTOR, count: 1 },
    ]);
    // The device carries on: the next transfer works.
    assert.equal(await driver.gather([good!], dest.iova), 3);
    assert.deepEqual(dest.bytes.subarray(0, 3), new Uint8Array([7, 8, 9]));
  });

  it("a destination the driver mapped read-only is an IOMMU fault too", async () => {
    const [good] = await sources([new Uint8Array(64)]);
    const readOnly = await container.allocateBuffer(4096, { perms: "r" });
    await assert.rejects(driver.gather([good!], readOnly.iova), { code: "EFAULT" });
  });

  it("a segment longer than the device takes is refused by the device with EINVAL", async () => {
    const dest = await container.allocateBuffer(4096);
    await assert.rejects(driver.gather([{ iova: dest.iova, length: 65537 }], dest.iova), {
      code: "EINVAL",
      message: /the gather failed on the device: EINVAL/,
    });
  });

  it("refuses a device that is not a gather engine", async () => {
    const other = counterDevice();
    const otherDev = await openLoopback(other);
    try {
      await assert.rejects(GatherDriver.open(otherDev, new Container()), {
        code: "ENODEV",
        message: /not a gather device: id register 0xc0ffee/,
      });
    } finally {
      await otherDev.close();
      other.close();
    }
  });
});
