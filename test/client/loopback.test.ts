import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Container } from "../../src/client/container.js";
import type { DeviceHandle } from "../../src/client/device-handle.js";
import { IommuOwner } from "../../src/client/iommu-owner.js";
import { openLoopback } from "../../src/client/loopback.js";
import { VFIO_PCI_MSIX_IRQ_INDEX } from "../../src/client/vfio-abi.js";
import { PasidAllocator } from "../../src/iommu/index.js";
import { PCI_CAP_ID_EXP, PCI_CAP_ID_MSIX, PCI_EXT_CAP_ID_DSN } from "../../src/pci/regs.js";
import { createDevice, type PciDevice } from "../../src/server/index.js";
import { isCode } from "../helpers/errors.js";

function makeDevice() {
  const regs = new Uint8Array(256);
  let resets = 0;
  let detached = 0;
  const dev: PciDevice = createDevice({
    name: "loopback-test",
    vendorId: 0x1b36,
    deviceId: 0x0001,
    classCode: 0xff0000,
    bars: [
      {
        kind: "mem32",
        size: 4096,
        read: (off, size) => regs.slice(off, off + size),
        write: (off, data) => {
          regs.set(data, off);
        },
      },
      undefined,
      { kind: "mem64", size: 16384, mmap: true },
    ],
    capabilities: [
      { kind: "msix", tableSize: 4, tableBar: 0, tableOffset: 0x800, pbaBar: 0, pbaOffset: 0xc00 },
      { kind: "pcie" },
    ],
    extendedCapabilities: [{ kind: "dsn", serial: 0x0123456789abcdefn }],
    reset: () => {
      resets++;
    },
    onDetach: () => {
      detached++;
    },
  });
  return { dev, regs, counts: () => ({ resets, detached }) };
}

async function withLoopback(
  fn: (h: DeviceHandle, d: ReturnType<typeof makeDevice>) => Promise<void>,
) {
  const d = makeDevice();
  const h = await openLoopback(d.dev);
  try {
    await fn(h, d);
  } finally {
    await h.close();
    d.dev.close();
  }
}

describe("loopback backend (in-process device, no socket)", () => {
  it("presents the SDK device through the DeviceHandle API", async () => {
    await withLoopback(async (h, d) => {
      assert.equal(h.backend.kind, "loopback");
      assert.equal(h.isPci, true);
      assert.equal(await h.config.read16(0), 0x1b36);
      const caps = await h.config.capabilities();
      assert.ok(caps.standard.some((c) => c.id === PCI_CAP_ID_MSIX));
      assert.ok(caps.standard.some((c) => c.id === PCI_CAP_ID_EXP));
      assert.deepEqual(
        caps.extended.map((c) => c.id),
        [PCI_EXT_CAP_ID_DSN],
      );
      await h.config.enableMemory();
      await h.write32(0, 0x10, 0xfeedface);
      assert.equal(new DataView(d.regs.buffer).getUint32(0x10, true), 0xfeedface);
      assert.equal(await h.read32(0, 0x10), 0xfeedface);
    });
  });

  it("mmapped BAR memory is shared with the device and zapped while memory is disabled", async () => {
    await withLoopback(async (h, d) => {
      await h.config.enableMemory();
      const bar = await h.mmap(2);
      const devMem = d.dev.bar(2).memory!;
      devMem[0x100] = 0x42;
      assert.equal(bar.read8(0x100), 0x42);
      bar.write32(0x200, 0x11223344);
      assert.equal(
        new DataView(devMem.buffer, devMem.byteOffset).getUint32(0x200, true),
        0x11223344,
      );
      await h.config.enableMemory(false);
      assert.throws(() => bar.read8(0x100), /PCI_COMMAND_MEMORY/);
      await assert.rejects(
        h.read32(2, 0x200),
        isCode("EIO"),
        "the server blocks trapped access too",
      );
      await h.config.enableMemory(true);
      assert.equal(bar.read32(0x200), 0x11223344);
    });
  });

  it("an MSI-X vector raised by the device reaches the right iterator", async () => {
    await withLoopback(async (h, d) => {
      await h.config.enableBusMaster(); // MSI-X messages are memory writes
      const vecs = await h.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX);
      assert.equal(vecs.length, 4);
      d.dev.irq.trigger(2);
      assert.equal(await vecs[2]!.wait(), 1);
      assert.equal(vecs[1]!.total + vecs[3]!.total + vecs[0]!.total, 0);
    });
  });

  it("DMA both ways through fd-backed buffers and message-served memory, with IOMMU faults", async () => {
    await withLoopback(async (h, d) => {
      const container = new Container({
        owner: new IommuOwner({ memlockLimit: "infinity", pasids: new PasidAllocator() }),
      });
      try {
        await h.config.enableBusMaster();
        await container.attach(h);
        const buf = await container.allocateBuffer(8192);
        await d.dev.dma.write(buf.iova + 16n, Uint8Array.of(1, 2, 3));
        assert.deepEqual(buf.bytes.subarray(16, 19), Uint8Array.of(1, 2, 3));
        buf.bytes.set([9, 9], 100);
        assert.deepEqual(await d.dev.dma.read(buf.iova + 100n, 2), Uint8Array.of(9, 9));

        const mem = new Uint8Array(4096);
        await container.mapMemory(0x40000000n, mem, "rw");
        await d.dev.dma.write(0x40000010n, Uint8Array.of(7, 7, 7));
        assert.deepEqual(mem.subarray(0x10, 0x13), Uint8Array.of(7, 7, 7));
        mem[0x20] = 0x55;
        assert.deepEqual(await d.dev.dma.read(0x40000020n, 1), Uint8Array.of(0x55));

        const ro = new Uint8Array(4096);
        await container.mapMemory(0x50000000n, ro, "r");
        await assert.rejects(d.dev.dma.write(0x50000000n, Uint8Array.of(1)), isCode("EFAULT"));
        await assert.rejects(d.dev.dma.read(0x60000000n, 4), isCode("EFAULT"));
        assert.equal(ro[0], 0);
      } finally {
        await container.close();
      }
    });
  });

  it("reset runs the device's reset and tears interrupts down; close detaches the client", async () => {
    const d = makeDevice();
    const h = await openLoopback(d.dev);
    try {
      const [v] = await h.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX, { count: 1 });
      await h.reset();
      assert.equal(d.counts().resets, 1);
      assert.equal(v!.closed, true);
      assert.equal(h.irqs.enabledIndexes().length, 0);
    } finally {
      await h.close();
    }
    assert.equal(d.counts().detached, 1);
    assert.equal(d.dev.connected, false);
    d.dev.close();
  });
});
