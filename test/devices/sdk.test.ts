/**
 * The sample devices inside the real SDK, in process: createDevice() builds them, the
 * framework's regions serve their BARs (MMIO gate included), the IRQ controller
 * delivers their interrupts to real eventfds, and their DMA goes through the IOMMU
 * domain to a stand-in for the client's DMA_READ/DMA_WRITE messages.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { type BuiltinDeviceName, instantiateBuiltinDevice } from "../../src/devices/index.js";
import {
  PCI_CAP_ID_MSI,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_STATUS,
  PCI_STATUS_INTERRUPT,
} from "../../src/pci/index.js";
import type { DeviceCore } from "../../src/server/device-core.js";
import type { DmaRemote } from "../../src/server/dma.js";
import type { PciDevice } from "../../src/server/index.js";
import type { IrqSetRequest } from "../../src/server/irqs/set-irqs.js";
import { deviceCore } from "../../src/server/pci-device.js";
import { dupFd, EventFd } from "../../src/sys/index.js";
import { le } from "./fake-host.js";

const u32 = (b: Uint8Array) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
const u16 = (b: Uint8Array) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(0, true);

/** Client memory reached by messages, as a window mapped without an fd is. */
class FakeRemote implements DmaRemote {
  readonly maxXfer = 64;
  constructor(
    readonly base: bigint,
    readonly memory: Uint8Array,
  ) {}
  async read(iova: bigint, count: number): Promise<Uint8Array> {
    const o = Number(iova - this.base);
    return this.memory.slice(o, o + count);
  }
  async write(iova: bigint, data: Uint8Array): Promise<void> {
    this.memory.set(data, Number(iova - this.base));
  }
}

function eventfdRequest(index: number, fd: number): IrqSetRequest {
  return {
    index,
    start: 0,
    count: 1,
    action: "trigger",
    data: { kind: "eventfd", fds: [dupFd(fd)] },
  };
}

const open: { device: PciDevice; core: DeviceCore; fds: EventFd[] }[] = [];

afterEach(async () => {
  for (const o of open.splice(0)) {
    o.core.irqs.detachClient();
    await o.core.dma.detach();
    o.device.close();
    for (const f of o.fds) f.close();
  }
});

function build<N extends BuiltinDeviceName>(name: N) {
  const { device, control } = instantiateBuiltinDevice(name);
  const core = deviceCore(device);
  const entry = { device, core, fds: [] as EventFd[] };
  open.push(entry);
  const eventfd = () => {
    const e = EventFd.create();
    entry.fds.push(e);
    return e;
  };
  return { device, core, control, eventfd };
}

describe("devices in the SDK: edu", () => {
  it("config space carries the identity and an MSI capability; BAR0 serves the registers", async () => {
    const { core } = build("edu");
    const cfg = core.region(7)!;
    assert.equal(u32(await cfg.read(0, 4)), 0x11e81234);
    assert.equal(u32(await cfg.read(8, 4)), 0x00ff0010);
    const capPtr = (await cfg.read(PCI_CAPABILITY_LIST, 1))[0]!;
    assert.equal((await cfg.read(capPtr, 1))[0], PCI_CAP_ID_MSI);
    const bar0 = core.region(0)!;
    assert.equal(bar0.size, 1 << 20);
    assert.equal(u32(await bar0.read(0, 4)), 0x010000ed);
    await bar0.write(4, le(0x12345678, 4));
    assert.equal(u32(await bar0.read(4, 4)), 0xedcba987);
  });

  it("BAR0 accesses fail with EIO while PCI_COMMAND_MEMORY is clear", async () => {
    const { core } = build("edu");
    await core.configWrite(PCI_COMMAND, le(0, 2));
    await assert.rejects(async () => core.region(0)!.read(0, 4), { code: "EIO" });
  });

  it("INTx: a raise signals the eventfd and sets PCI_STATUS_INTERRUPT until acknowledged", async () => {
    const { core, eventfd } = build("edu");
    const efd = eventfd();
    core.irqs.setIrqs(eventfdRequest(0, efd.fd));
    const bar0 = core.region(0)!;
    await bar0.write(0x60, le(0x4, 4));
    assert.equal(efd.read(), 1n);
    assert.equal(
      u16(await core.region(7)!.read(PCI_STATUS, 2)) & PCI_STATUS_INTERRUPT,
      PCI_STATUS_INTERRUPT,
    );
    await bar0.write(0x64, le(0x4, 4));
    assert.equal(u16(await core.region(7)!.read(PCI_STATUS, 2)) & PCI_STATUS_INTERRUPT, 0);
  });

  it("MSI: with MSI enabled the factorial interrupt goes to vector 0", async () => {
    const { core, control, eventfd } = build("edu");
    const efd = eventfd();
    core.irqs.setIrqs(eventfdRequest(1, efd.fd));
    await core.configWrite(PCI_COMMAND, le(0x0006, 2)); // MSI is a memory write: bus master
    const bar0 = core.region(0)!;
    await bar0.write(0x20, le(0x80, 4));
    await bar0.write(0x08, le(6, 4));
    await control.idle();
    assert.equal(u32(await bar0.read(0x08, 4)), 720);
    assert.equal(efd.read(), 1n);
    assert.equal(u32(await bar0.read(0x24, 4)), 1);
  });

  it("DMA goes through the IOMMU window both ways, once bus mastering is on", async () => {
    const { core, control } = build("edu");
    const memory = new Uint8Array(0x2000);
    memory.forEach((_, i) => {
      memory[i] = (i * 13) & 0xff;
    });
    core.dma.attach(new FakeRemote(0x100000n, memory), 16, 4096n);
    core.dma.map({
      iova: 0x100000n,
      size: 0x2000n,
      readable: true,
      writable: true,
      offset: 0n,
      fd: undefined,
    });
    const bar0 = core.region(0)!;
    const program = async (src: number, dst: number, count: number, cmd: number) => {
      await bar0.write(0x80, le(src, 8));
      await bar0.write(0x88, le(dst, 8));
      await bar0.write(0x90, le(count, 8));
      await bar0.write(0x98, le(cmd, 8));
    };

    await program(0x100000, 0x40000, 200, 1);
    await control.idle();
    assert.equal(control.dmaErrors, 1, "bus mastering is off after creation");

    await core.configWrite(PCI_COMMAND, le(0x0006, 2));
    await program(0x100000, 0x40000, 200, 1);
    await control.idle();
    assert.deepEqual(control.buffer.subarray(0, 200), memory.subarray(0, 200));

    await program(0x40000, 0x101000, 200, 3);
    await control.idle();
    assert.deepEqual(memory.subarray(0x1000, 0x1000 + 200), control.buffer.subarray(0, 200));

    await program(0x102000, 0x40000, 8, 1); // outside the window: IOMMU fault
    await control.idle();
    assert.equal(control.dmaErrors, 2);
    assert.equal(core.dma.faults, 1);
  });

  it("DEVICE_RESET runs the model's reset", async () => {
    const { core } = build("edu");
    const bar0 = core.region(0)!;
    await bar0.write(0x04, le(1, 4));
    await core.reset();
    assert.equal(u32(await bar0.read(0x04, 4)), 0);
  });
});

describe("devices in the SDK: gpio", () => {
  it("BAR 2 is an 8-byte I/O region; outputs, inputs and the INTx eventfd work through it", async () => {
    const { core, control, eventfd } = build("gpio");
    const bar2 = core.region(2)!;
    assert.equal(bar2.size, 8);
    assert.equal(core.region(0)!.size, 0);
    await bar2.write(0, Uint8Array.of(0x81));
    assert.equal(control.outputs, 0x81);
    control.setInputs(0x4000);
    assert.deepEqual(await bar2.read(5, 1), Uint8Array.of(0x40));

    const efd = eventfd();
    core.irqs.setIrqs(eventfdRequest(0, efd.fd));
    await bar2.read(2, 1); // enable IRQ
    control.setInput(0, true);
    assert.equal(efd.read(), 1n);
    assert.deepEqual(await bar2.read(6, 1), Uint8Array.of(0x05));
    await bar2.write(1, Uint8Array.of(0));
    assert.equal(u16(await core.region(7)!.read(PCI_STATUS, 2)) & PCI_STATUS_INTERRUPT, 0);
  });

  it("I/O accesses fail with EIO while PCI_COMMAND_IO is clear", async () => {
    const { core } = build("gpio");
    await core.configWrite(PCI_COMMAND, le(0, 2));
    await assert.rejects(async () => core.region(2)!.read(0, 1), { code: "EIO" });
  });
});
