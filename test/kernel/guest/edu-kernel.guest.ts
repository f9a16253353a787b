/**
 * The edu driver of src/drivers/edu, unchanged, against QEMU's own C edu device
 * through the guest kernel's vfio-pci, as an unprivileged user.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Container } from "../../../src/client/container.js";
import type { DeviceHandle } from "../../../src/client/device-handle.js";
import { openKernelDevice } from "../../../src/client/kernel/index.js";
import { VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX } from "../../../src/client/vfio-abi.js";
import { dmaRoundTrip } from "../../../src/drivers/edu/dma-roundtrip.js";
import { EduDriver } from "../../../src/drivers/edu/driver.js";
import { EDU_BAR, REG_ID } from "../../../src/drivers/edu/regs.js";
import { VfioError } from "../../../src/errors.js";
import { PCI_COMMAND_MEMORY } from "../../../src/pci/regs.js";
import { eduAddress } from "./find.js";

/** See the comment where it is used: below QEMU 7.2 edu's off-by-one limit. */
const DMA_LEN = 2048;

function factorial32(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r = Math.imul(r, i) >>> 0;
  return r;
}

describe("the edu driver through kernel VFIO, as a non-root user", () => {
  let dev: DeviceHandle;
  before(async () => {
    assert.notEqual(process.getuid?.(), 0, "these tests must run unprivileged");
    dev = await openKernelDevice(eduAddress());
  });
  after(async () => {
    await dev?.close();
  });

  it("reports the device as the kernel does: PCI, config space, a 1 MiB BAR0, MSI and INTx", async () => {
    assert.equal(dev.backend.kind, "kernel");
    assert.ok(dev.isPci);
    assert.ok(dev.info.numRegions >= 9);
    assert.equal(await dev.regionSize(EDU_BAR), 1n << 20n);
    const bar0 = await dev.regionInfo(EDU_BAR);
    assert.ok(bar0.mmapAreas.length > 0, "vfio-pci lets BAR0 be mmapped");
  });

  for (const irqMode of ["msi", "intx"] as const) {
    it(`probes, checks liveness, computes factorials and DMAs both ways with ${irqMode}`, async () => {
      const driver = await EduDriver.open(dev, { irqMode, timeoutMs: 20_000 });
      try {
        assert.equal(driver.irqMode, irqMode);
        assert.equal(driver.identity.vendorId, 0x1234);
        assert.equal(driver.identity.deviceId, 0x11e8);
        assert.equal(driver.identity.idRegister & 0xff, 0xed);
        assert.equal(await driver.checkLiveness(), true);
        for (const n of [0, 1, 5, 10, 12, 13]) {
          assert.equal(await driver.factorial(n), factorial32(n), `${n}!`);
        }
        // QEMU 7.2's edu aborts the whole VM on a DMA that ends exactly at the end of
        // its 4 KiB buffer (an off-by-one in its range check, fixed in later QEMU), so
        // transfers here stay below that.
        const data = new Uint8Array(DMA_LEN);
        for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
        const trip = await dmaRoundTrip(driver, data, "fd");
        assert.equal(trip.ok, true, "the bytes came back through the IOMMU unchanged");
        assert.ok(driver.irqCounts.factorial >= 6);
        assert.ok(driver.irqCounts.dma >= 2);
      } finally {
        await driver.close();
      }
    });
  }

  it("arms the device-request (REQ) eventfd; ERR exists only for PCIe devices", async () => {
    const req = await dev.irqs.info(VFIO_PCI_REQ_IRQ_INDEX);
    assert.equal(req.count, 1);
    const [vector] = await dev.irqs.enable(VFIO_PCI_REQ_IRQ_INDEX, { count: 1 });
    assert.ok(vector !== undefined);
    await dev.irqs.disable(VFIO_PCI_REQ_IRQ_INDEX);
    // vfio-pci answers EINVAL for ERR on a conventional PCI device such as edu.
    await assert.rejects(
      dev.irqs.info(VFIO_PCI_ERR_IRQ_INDEX),
      (e: unknown) => e instanceof VfioError && e.code === "EINVAL",
    );
  });

  it("asks VFIO_DEVICE_FEATURE about migration: plain vfio-pci has none, and the API says so", async () => {
    // Migration needs a vfio-pci variant driver (mlx5, hisi, ...); edu has none, so the
    // kernel answers ENOTTY for the feature and for DMA logging, as our server does.
    assert.equal(await dev.migration.features(), undefined);
    assert.equal(await dev.migration.probe(6 /* DMA_LOGGING_START */, 1 << 17 /* SET */), false);
    await assert.rejects(
      dev.migration.state(),
      (e: unknown) => (e as { code?: string }).code === "ENOTTY",
    );
    await assert.rejects(
      dev.migration.read(16),
      (e: unknown) => (e as { code?: string }).code === "EINVAL",
    );
  });

  it("maps each window once in the kernel container, inside the kernel's IOVA ranges", async () => {
    const container = new Container();
    try {
      await container.attach(dev);
      const ranges = container.domain.iovaRanges;
      assert.ok(ranges.length >= 2, "the MSI window is a hole in the usable IOVA");
      const msiHole = 0xfee00000n;
      assert.ok(!ranges.some((r) => r.start <= msiHole && msiHole <= r.end));
      await assert.rejects(
        container.allocateBuffer(4096, { iova: msiHole }),
        (e: unknown) => e instanceof VfioError && e.code === "EINVAL",
      );
      const buf = await container.allocateBuffer(8192);
      assert.equal(container.pinnedBytes, 8192n);
      await buf.free();
      assert.equal(container.pinnedBytes, 0n);
    } finally {
      await container.close();
    }
  });

  it("refuses to pin past RLIMIT_MEMLOCK with advice: first our accounting, then the kernel's", async () => {
    const limit = 64n << 20n; // the guest script's `ulimit -l 65536`
    const tooMuch = 96 << 20;
    const mirrored = new Container();
    try {
      await mirrored.attach(dev);
      await assert.rejects(mirrored.allocateBuffer(tooMuch), (e: unknown) => {
        return (
          e instanceof VfioError &&
          e.code === "ENOMEM" &&
          e.message.includes(`RLIMIT_MEMLOCK) of ${limit} bytes`)
        );
      });
    } finally {
      await mirrored.close();
    }
    // With our own accounting off, the kernel is the one that refuses.
    const unlimited = new Container({ memlockLimit: "infinity" });
    try {
      await unlimited.attach(dev);
      await assert.rejects(unlimited.allocateBuffer(tooMuch), (e: unknown) => {
        return (
          e instanceof VfioError &&
          e.code === "ENOMEM" &&
          /RLIMIT_MEMLOCK is 67108864 bytes; raise it \(ulimit -l/.test(e.message)
        );
      });
      assert.equal(unlimited.pinnedBytes, 0n, "nothing stays charged after the refusal");
      const ok = await unlimited.allocateBuffer(1 << 20);
      assert.equal(unlimited.pinnedBytes, 1n << 20n);
      await ok.free();
    } finally {
      await unlimited.close();
    }
  });

  it("zaps mapped BAR views before memory decoding goes off, so touching the BAR cannot SIGBUS", async () => {
    await dev.config.enableMemory();
    const bar = await dev.mmap(EDU_BAR);
    const id = await dev.read32(EDU_BAR, REG_ID);
    assert.equal(id & 0xff, 0xed);
    assert.equal(bar.read32(REG_ID), id, "the mmapped BAR reads the register");
    const raw = new Uint8Array(bar.windows[0]!.buffer);
    assert.equal(raw.byteLength, 1 << 20);
    await dev.config.updateCommand(0, PCI_COMMAND_MEMORY);
    assert.equal(dev.memoryEnabled, false);
    assert.equal(raw.byteLength, 0, "the raw view is detached, not left over unmapped memory");
    assert.equal(bar.zapped, true);
    assert.throws(
      () => bar.read32(REG_ID),
      (e: unknown) => e instanceof VfioError && e.code === "EIO",
    );
    await assert.rejects(
      dev.read32(EDU_BAR, REG_ID),
      (e: unknown) => e instanceof VfioError && e.code === "EIO",
    );
    await dev.config.enableMemory();
    assert.equal(bar.read32(REG_ID), id, "the BAR faults back in");
    assert.equal(await dev.read32(EDU_BAR, REG_ID), id);
    bar.close();
  });

  it("resets, or says clearly that the device cannot be reset", async (t) => {
    t.diagnostic(`VFIO_DEVICE_FLAGS_RESET is ${dev.canReset ? "set" : "clear"}`);
    const bar = await dev.mmap(EDU_BAR);
    assert.equal(bar.read32(REG_ID) & 0xff, 0xed);
    if (!dev.canReset) {
      await assert.rejects(dev.reset(), /does not support reset/);
      assert.equal(bar.zapped, false, "a refused reset touches nothing");
    } else {
      const raw = new Uint8Array(bar.windows[0]!.buffer);
      await dev.reset();
      assert.equal(raw.byteLength, 0, "reset zapped the mapping");
      if (!dev.memoryEnabled) await dev.config.enableMemory();
      assert.equal(bar.read32(REG_ID) & 0xff, 0xed, "and it faults back in afterwards");
    }
    bar.close();
  });

  it("keeps the device out of memory it may not write, and survives DMA to unmapped IOVA", async () => {
    const driver = await EduDriver.open(dev, { irqMode: "msi", timeoutMs: 20_000 });
    try {
      const source = await driver.container.allocateBuffer(4096);
      source.bytes.fill(0x5a);
      await driver.dmaToDevice(source.iova, DMA_LEN);
      const readOnly = await driver.container.allocateBuffer(4096, { perms: "r" });
      readOnly.bytes.fill(0x11);
      // The device writes its 0x5a buffer to memory the IOMMU lets it only read.
      await driver.dmaFromDevice(readOnly.iova, DMA_LEN);
      assert.ok(
        readOnly.bytes.every((b) => b === 0x11),
        "the IOMMU dropped the write",
      );
      // And to IOVA nothing is mapped at (128 MiB, inside the engine's 28 bits).
      const unmapped = 0x8000000n;
      assert.equal(driver.container.domain.find(unmapped), undefined);
      await driver.dmaFromDevice(unmapped, DMA_LEN);
      await driver.dmaToDevice(unmapped, DMA_LEN);
      assert.equal(await driver.factorial(6), 720, "the driver and device carry on");
      const check = await dmaRoundTrip(driver, Uint8Array.of(1, 2, 3, 4), "fd");
      assert.equal(check.ok, true);
    } finally {
      await driver.close();
    }
  });
});
