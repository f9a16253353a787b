import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeviceHandle } from "../../src/client/device-handle.js";
import {
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
} from "../../src/client/vfio-abi.js";
import {
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_VNDR,
} from "../../src/pci/regs.js";
import { isCode } from "../helpers/errors.js";
import { openFdCount } from "../helpers/fds.js";
import { BAR0_SIZE, FakeBackend, type FakeOptions } from "./fake-backend.js";

async function open(opts: FakeOptions = {}) {
  const fake = new FakeBackend(opts);
  const dev = await DeviceHandle.open(fake, { name: "fake0" });
  return {
    fake,
    dev,
    async dispose() {
      await dev.close();
      fake.dispose();
    },
  };
}

describe("DeviceHandle regions and config", () => {
  it("opens with the device's info and memory-enable state", async () => {
    const t = await open();
    try {
      assert.equal(t.dev.info.numRegions, 9);
      assert.equal(t.dev.isPci, true);
      assert.equal(t.dev.canReset, true);
      assert.equal(t.dev.memoryEnabled, true);
      assert.deepEqual(t.fake.calls.slice(0, 2), ["getInfo", "read:7:4:2"]);
    } finally {
      await t.dispose();
    }
  });

  it("reads and writes regions with 1/2/4/8-byte accessors and arbitrary lengths", async () => {
    const t = await open();
    try {
      await t.dev.write32(2, 0x100, 0xcafef00d);
      await t.dev.write64(2, 0x108, 0x1122334455667788n);
      await t.dev.write16(2, 0x110, 0xabcd);
      await t.dev.write8(2, 0x112, 0xee);
      assert.equal(await t.dev.read32(2, 0x100), 0xcafef00d);
      assert.equal(await t.dev.read64(2, 0x108), 0x1122334455667788n);
      assert.equal(await t.dev.read16(2, 0x110n), 0xabcd);
      assert.equal(await t.dev.read8(2, 0x112), 0xee);
      const big = new Uint8Array(5000).map((_, i) => i * 7);
      await t.dev.write(2, 1000, big);
      assert.deepEqual(await t.dev.read(2, 1000, 5000), big);
      assert.deepEqual(t.fake.bar2.subarray(1000, 6000), big);
    } finally {
      await t.dispose();
    }
  });

  it("refuses accesses outside a region or to missing regions before asking the device", async () => {
    const t = await open();
    try {
      const before = t.fake.calls.length;
      await assert.rejects(t.dev.read32(2, 65534), isCode("EINVAL"));
      await assert.rejects(t.dev.read(2, -1, 1), isCode("EINVAL"));
      await assert.rejects(t.dev.read8(9, 0), /region 9 does not exist/);
      await assert.rejects(t.dev.read8(3, 0), /does not allow reads/);
      const sent = t.fake.calls.slice(before);
      assert.deepEqual(
        sent.filter((c) => !c.startsWith("getRegionInfo:")),
        [],
        "only region-info queries may have been sent",
      );
    } finally {
      await t.dispose();
    }
  });

  it("typed config helpers and a capability walk including extended capabilities", async () => {
    const t = await open();
    try {
      assert.equal(await t.dev.config.read16(0), 0x1af4);
      assert.equal(await t.dev.config.read32(0), 0x10f01af4);
      await t.dev.config.write8(0x3c, 0x0b);
      assert.equal(await t.dev.config.read8(0x3c), 0x0b);
      await t.dev.config.write32(0x60, 0x89abcdef);
      assert.equal(await t.dev.config.read32(0x60), 0x89abcdef);
      await t.dev.config.write16(0x64, 0x1234);
      assert.equal(await t.dev.config.read16(0x64), 0x1234);
      const caps = await t.dev.config.capabilities();
      assert.deepEqual(
        caps.standard.map((c) => [c.id, c.offset]),
        [
          [PCI_CAP_ID_MSIX, 0x40],
          [PCI_CAP_ID_PM, 0x50],
        ],
      );
      assert.deepEqual(
        caps.extended.map((c) => [c.id, c.offset]),
        [
          [PCI_EXT_CAP_ID_DSN, 0x100],
          [PCI_EXT_CAP_ID_VNDR, 0x140],
        ],
      );
      assert.equal((await t.dev.config.findCapability(PCI_CAP_ID_PM))?.offset, 0x50);
      assert.equal((await t.dev.config.findExtCapability(PCI_EXT_CAP_ID_VNDR))?.offset, 0x140);
      assert.equal(await t.dev.config.findCapability(0x05), undefined);
    } finally {
      await t.dispose();
    }
  });
});

describe("DeviceHandle mmap and MMIO blocking", () => {
  it("maps sparse areas and addresses them by region offset", async () => {
    const t = await open();
    try {
      const bar = await t.dev.mmap(0);
      assert.equal(bar.windows.length, 2);
      assert.equal(await t.dev.mmap(0), bar, "the same mapping is returned");
      bar.write32(0x2004, 0x5a5a5a5a);
      assert.equal(new DataView(t.fake.bar0View.buffer).getUint32(0x2004, true), 0x5a5a5a5a);
      t.fake.bar0View[8] = 0x99;
      assert.equal(bar.read8(8), 0x99);
      assert.throws(() => bar.read32(0x1000), /not inside one mmapped area/);
      await assert.rejects(t.dev.mmap(2), /not mappable/);
    } finally {
      await t.dispose();
    }
  });

  it("clearing PCI_COMMAND_MEMORY zaps every BAR view; setting it faults them back in", async () => {
    const t = await open();
    try {
      const bar = await t.dev.mmap(0);
      const ab = bar.windows[0]!.buffer;
      bar.write32(0, 7);
      await t.dev.config.enableMemory(false);
      assert.equal(t.dev.memoryEnabled, false);
      assert.equal(t.fake.memoryEnabled, false);
      assert.equal(ab.byteLength, 0, "the old ArrayBuffer is detached");
      assert.equal(bar.zapped, true);
      assert.throws(
        () => bar.read32(0),
        (e: unknown) => isCode("EIO")(e) && /PCI_COMMAND_MEMORY/.test(String(e)),
      );
      assert.throws(() => bar.write32(0x2000, 1), /access blocked/);
      await t.dev.config.enableMemory(true);
      assert.equal(bar.read32(0), 7, "faulted back in with the device's data");
      assert.equal(bar.windows[0]!.faultIns, 2);
    } finally {
      await t.dispose();
    }
  });

  it("a raw config write that clears the memory bit zaps too; other config writes do not", async () => {
    const t = await open();
    try {
      const bar = await t.dev.mmap(0);
      bar.read32(0);
      await t.dev.write(VFIO_PCI_CONFIG_REGION_INDEX, 0x3c, Uint8Array.of(5));
      assert.equal(bar.zapped, false);
      await t.dev.write(VFIO_PCI_CONFIG_REGION_INDEX, 0, new Uint8Array(8).fill(0)); // covers COMMAND
      assert.equal(bar.zapped, true);
      assert.throws(() => bar.read8(0), isCode("EIO"));
      await t.dev.write8(VFIO_PCI_CONFIG_REGION_INDEX, 4, 0x06);
      assert.equal(bar.read8(0), t.fake.bar0View[0]);
    } finally {
      await t.dispose();
    }
  });

  it("reset zaps mappings and re-reads the memory bit; access needs memory re-enabled", async () => {
    const t = await open();
    try {
      const bar = await t.dev.mmap(0);
      const ab = bar.windows[1]!.buffer;
      await t.dev.reset();
      assert.equal(t.fake.resets, 1);
      assert.equal(ab.byteLength, 0);
      assert.equal(t.dev.memoryEnabled, false, "the fake resets COMMAND to 0");
      assert.throws(() => bar.read32(0x2000), /PCI_COMMAND_MEMORY/);
      await t.dev.config.enableMemory();
      assert.equal(bar.read32(0x2000), 0);
    } finally {
      await t.dispose();
    }
  });

  it("rejects mappings the device describes badly (untrusted)", async () => {
    const fdsBefore = openFdCount();
    const t = await open({
      regionInfo: (i) =>
        i.index === 0 ? { ...i, mmapAreas: [{ offset: 0n, size: BigInt(BAR0_SIZE) * 2n }] } : i,
    });
    try {
      await assert.rejects(
        t.dev.mmap(0),
        (e: unknown) => isCode("EPROTO")(e) && /runs past/.test(String(e)),
      );
    } finally {
      await t.dispose();
    }
    assert.equal(openFdCount(), fdsBefore, "the region fd of the rejected info was closed");
  });
});

describe("DeviceHandle interrupts", () => {
  it("enables MSI-X with eventfds split by max_msg_fds; a vector reaches its iterator and the irq event", async () => {
    const t = await open({ limits: { maxMsgFds: 3 }, irqInfo: (i) => ({ ...i, flags: 1 }) });
    try {
      const events: number[] = [];
      t.dev.on("irq", (ev) => events.push(ev.vector));
      const vecs = await t.dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX);
      assert.equal(vecs.length, 8);
      const sets = t.fake.irqSets.map((s) => [s.flags, s.start, s.count, s.fds?.length]);
      const f = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
      assert.deepEqual(sets, [
        [f, 0, 3, 3],
        [f, 3, 3, 3],
        [f, 6, 2, 2],
      ]);
      const it5 = vecs[5]![Symbol.asyncIterator]();
      t.fake.fire(VFIO_PCI_MSIX_IRQ_INDEX, 5, 2);
      assert.deepEqual(await it5.next(), { done: false, value: 2 });
      assert.deepEqual(events, [5]);
      assert.equal(vecs[3]!.pending, 0, "other vectors saw nothing");
      await vecs[5]!.mask();
      await t.dev.irqs.unmask(VFIO_PCI_MSIX_IRQ_INDEX, 5);
      const last2 = t.fake.irqSets.slice(-2).map((s) => [s.flags, s.start, s.count]);
      assert.deepEqual(last2, [
        [VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, 5, 1],
        [VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, 5, 1],
      ]);
      const pendingNext = it5.next();
      await t.dev.irqs.disable(VFIO_PCI_MSIX_IRQ_INDEX);
      assert.deepEqual(await pendingNext, { done: true, value: undefined });
      const off = t.fake.irqSets.at(-1)!;
      assert.deepEqual(
        [off.flags, off.start, off.count],
        [VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0],
      );
      assert.equal(vecs[0]!.fd, -1, "our eventfds are closed");
    } finally {
      await t.dispose();
    }
  });

  it("refuses what would need one message beyond max_msg_fds on a NORESIZE index", async () => {
    const t = await open({ limits: { maxMsgFds: 3 } });
    try {
      await assert.rejects(
        t.dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX),
        (e: unknown) => isCode("E2BIG")(e) && /max_msg_fds/.test(String(e)),
      );
      const v = await t.dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX, { start: 2, count: 3 });
      assert.deepEqual(
        v.map((x) => x.vector),
        [2, 3, 4],
      );
    } finally {
      await t.dispose();
    }
  });

  it("INTx: one vector, automasked, re-armed by unmask; exclusive with MSI-X", async () => {
    const t = await open();
    try {
      const [intx] = await t.dev.irqs.enable(VFIO_PCI_INTX_IRQ_INDEX);
      await assert.rejects(
        t.dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX),
        (e: unknown) => isCode("EBUSY")(e) && /INTx/.test(String(e)),
      );
      t.fake.fire(VFIO_PCI_INTX_IRQ_INDEX, 0);
      assert.equal(await intx!.wait(), 1);
      await intx!.unmask();
      const s = t.fake.irqSets.at(-1)!;
      assert.deepEqual(
        [s.index, s.flags, s.start, s.count],
        [0, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1],
      );
      await assert.rejects(t.dev.irqs.unmask(VFIO_PCI_INTX_IRQ_INDEX, 0, 2), isCode("EINVAL"));
    } finally {
      await t.dispose();
    }
  });

  it("rejects IRQ counts beyond what PCI allows (untrusted)", async () => {
    const t = await open({ irqInfo: (i) => ({ ...i, count: i.index === 2 ? 4096 : i.count }) });
    try {
      await assert.rejects(
        t.dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX),
        (e: unknown) => isCode("EPROTO")(e) && /count 4096/.test(String(e)),
      );
    } finally {
      await t.dispose();
    }
  });
});

describe("DeviceHandle lifecycle", () => {
  it("refuses a device reporting absurd region counts", async () => {
    const fake = new FakeBackend({ info: { numRegions: 100000 } });
    try {
      await assert.rejects(
        DeviceHandle.open(fake),
        (e: unknown) => isCode("EPROTO")(e) && /num_regions/.test(String(e)),
      );
    } finally {
      fake.dispose();
    }
  });

  it("a disconnect surfaces as events, blocks mappings and ends interrupt iterators", async () => {
    const t = await open();
    try {
      const bar = await t.dev.mmap(0);
      const [v] = await t.dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX, { count: 1 });
      const waiting = v!.wait();
      const seen: string[] = [];
      t.dev.on("disconnect", (e) => seen.push(`disconnect:${e.message}`));
      t.dev.on("error", () => seen.push("error"));
      t.fake.disconnect();
      assert.deepEqual(seen, ["disconnect:fake device went away", "error"]);
      await assert.rejects(waiting, isCode("ECANCELED"));
      assert.throws(() => bar.read32(0), /disconnected/);
      await assert.rejects(t.dev.read32(2, 0), isCode("ENOTCONN"));
    } finally {
      await t.dispose();
    }
  });

  it("close disables interrupts, unmaps, closes region fds and the backend", async () => {
    const fdsBefore = openFdCount();
    const fake = new FakeBackend();
    const dev = await DeviceHandle.open(fake);
    const bar = await dev.mmap(0);
    const ab = bar.windows[1]!.buffer;
    await dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX, { count: 2 });
    let closed = false;
    dev.on("close", () => {
      closed = true;
    });
    await dev.close();
    await dev.close();
    assert.equal(closed, true);
    assert.equal(ab.byteLength, 0);
    assert.equal(fake.calls.at(-1), "close");
    const off = fake.irqSets.at(-1)!;
    assert.equal(off.count, 0);
    await assert.rejects(dev.read8(2, 0), isCode("EBADF"));
    assert.throws(() => bar.read8(0), isCode("EBADF"));
    fake.dispose();
    assert.equal(openFdCount(), fdsBefore, "no fd leaked");
  });
});
