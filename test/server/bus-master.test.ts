import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IommuFaultError } from "../../src/iommu/index.js";
import { Command } from "../../src/protocol/index.js";
import { DmaController } from "../../src/server/dma.js";
import {
  BusMasterDisabledError,
  createDevice,
  type DeviceContext,
  type IrqDelivery,
  silentLogger,
  VfioUserServer,
} from "../../src/server/index.js";
import { EventFd, MemFd, socketPair } from "../../src/sys/index.js";
import { RawClient } from "./raw-client.js";

const PCI_COMMAND = 0x04;
const MASTER = 0x4;
const MEMORY = 0x2;

/**
 * A device whose BAR0 write at 0 DMAs 8 bytes from IOVA 0x10000 and at 4 fires MSI-X
 * vector 0; what each callback saw is recorded, including every context it got.
 */
function recordingDevice() {
  const seen: { dma: string[]; irq: IrqDelivery[]; contexts: DeviceContext[] } = {
    dma: [],
    irq: [],
    contexts: [],
  };
  const device = createDevice({
    vendorId: 0x1b36,
    deviceId: 0x0043,
    classCode: 0xff0000,
    bars: [
      {
        kind: "mem32",
        size: 4096,
        async write(offset, _data, dev) {
          seen.contexts.push(dev);
          if (offset === 4) {
            seen.irq.push(dev.irq.trigger(0));
            return;
          }
          try {
            const bytes = await dev.dma.read(0x10000n, 8);
            seen.dma.push(`ok ${bytes[0]}`);
          } catch (err) {
            seen.dma.push(`${(err as Error).name} ${(err as { code?: string }).code}`);
          }
        },
      },
    ],
    capabilities: [
      { kind: "msix", tableSize: 1, tableBar: 0, tableOffset: 0x800, pbaBar: 0, pbaOffset: 0xc00 },
    ],
  });
  return { device, seen };
}

async function served() {
  const { device, seen } = recordingDevice();
  const server = new VfioUserServer(device, { logger: silentLogger });
  const [a, b] = socketPair();
  server.serve(a);
  const c = await RawClient.over(b);
  const ram = MemFd.create("ram", 4096);
  new Uint8Array(ram.map(0, 4096))[0] = 0x5a;
  await c.call(
    Command.VFIO_USER_DMA_MAP,
    { argsz: 32, flags: 3, offset: 0n, address: 0x10000n, size: 4096n },
    { fds: [ram.fd] },
  );
  const close = async () => {
    c.close();
    await server.close();
    ram.close();
    device.close();
  };
  return { device, seen, c, close };
}

describe("bus mastering (PCI_COMMAND_MASTER) is enforced by the framework", () => {
  it("a device's DMA fails like an IOMMU fault while the client has bus mastering off", async () => {
    const { device, seen, c, close } = await served();
    try {
      assert.equal((await c.read16(7, PCI_COMMAND)) & MASTER, 0, "off after creation");
      await c.write32(0, 0, 1);
      assert.deepEqual(seen.dma, ["BusMasterDisabledError EFAULT"]);
      assert.equal(device.dma.faults, 1, "counted as a fault");

      await c.write16(7, PCI_COMMAND, MEMORY | MASTER);
      await c.write32(0, 0, 1);
      assert.equal(seen.dma[1], "ok 90", "the same window works once MASTER is set");

      await c.write16(7, PCI_COMMAND, MEMORY);
      await c.write32(0, 0, 1);
      assert.equal(seen.dma[2], "BusMasterDisabledError EFAULT", "and fails again once cleared");
      assert.throws(() => device.dma.view(0x10000n, 8), BusMasterDisabledError);
      assert.equal(device.dma.faults, 3);
    } finally {
      await close();
    }
  });

  it("device code gets a DMA facade: no way to the DmaController or around the check", async () => {
    const { device, seen, c, close } = await served();
    try {
      await c.write32(0, 0, 1);
      const dev = seen.contexts[0];
      assert.ok(dev !== undefined);
      assert.equal(dev.dma, device.dma, "the callbacks and the host see the same facade");
      assert.ok(!(dev.dma instanceof DmaController));
      assert.deepEqual(Object.keys(dev.dma).sort(), [
        "faults",
        "read",
        "readSegments",
        "view",
        "windows",
        "write",
        "writeSegments",
      ]);
      assert.equal(Object.getPrototypeOf(dev.dma), Object.prototype, "no class to reach into");
      assert.ok(Object.isFrozen(dev.dma) && Object.isFrozen(dev), "nothing can be swapped in");
      for (const name of ["attach", "detach", "map", "unmap", "unmapAll"]) {
        assert.equal((dev.dma as unknown as Record<string, unknown>)[name], undefined, name);
      }
      assert.throws(() => {
        (dev as { dma: unknown }).dma = { read: async () => new Uint8Array(8) };
      }, TypeError);
      // The error is the IOMMU-fault kind of error a device already handles: EFAULT.
      const err = await dev.dma.read(0x10000n, 8).catch((e: unknown) => e);
      assert.ok(err instanceof BusMasterDisabledError && !(err instanceof IommuFaultError));
      assert.equal(err.errno, 14);
    } finally {
      await close();
    }
  });

  it("MSI-X is not sent while MASTER is clear; a vector pending from a mask waits for it", async () => {
    const { seen, c, close } = await served();
    const efd = EventFd.create();
    try {
      await c.call(
        Command.VFIO_USER_DEVICE_SET_IRQS,
        { argsz: 20, action: "trigger", data: "eventfd", index: 2, start: 0, count: 1 },
        { fds: [efd.fd] },
      );
      await c.write32(0, 4, 1);
      assert.deepEqual(seen.irq, ["blocked"]);
      assert.equal(efd.read(), null, "no message, no eventfd signal");

      // Masked by the client: pending in the PBA (masking is allowed without MASTER).
      const mask = (action: "mask" | "unmask") =>
        c.call(Command.VFIO_USER_DEVICE_SET_IRQS, {
          argsz: 20,
          action,
          data: "none",
          index: 2,
          start: 0,
          count: 1,
        });
      await mask("mask");
      await c.write32(0, 4, 1);
      assert.equal(seen.irq[1], "pending");
      assert.equal((await c.regionRead(0, 0xc00, 1))[0], 1, "PBA bit set");
      await mask("unmask");
      assert.equal(efd.read(), null, "unmasked, but still no MASTER: stays pending");
      assert.equal((await c.regionRead(0, 0xc00, 1))[0], 1);

      await c.write16(7, PCI_COMMAND, MEMORY | MASTER);
      assert.equal(efd.read(), 1n, "delivered once MASTER is set");
      assert.equal((await c.regionRead(0, 0xc00, 1))[0], 0);
      await c.write32(0, 4, 1);
      assert.equal(seen.irq[2], "delivered");
      assert.equal(efd.read(), 1n);
    } finally {
      efd.close();
      await close();
    }
  });
});
