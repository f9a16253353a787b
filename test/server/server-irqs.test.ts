import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Command, type IrqSetAction, type IrqSetData } from "../../src/protocol/index.js";
import { EventFd, MemFd } from "../../src/sys/index.js";
import { REG } from "../fixtures/test-device-regs.js";
import { type DeviceProcess, startDevice } from "./harness.js";
import {
  CMD_INTX_DISABLE,
  CMD_IO,
  CMD_MEMORY,
  E,
  findCap,
  PCI_COMMAND,
  PCI_STATUS,
  rejectsWith,
  STATUS_INTERRUPT,
} from "./helpers.js";
import { RawClient } from "./raw-client.js";

const INTX = 0;
const MSI = 1;
const MSIX = 2;
const ERR = 3;
const REQ = 4;
const DELIVERED = 0;
const PENDING = 1;
const DROPPED = 2;
const TABLE = 0x2000;
const PBA = 0x3000;

describe("server: interrupts (device in another process)", () => {
  let dev: DeviceProcess;
  let c: RawClient;
  let msix = 0;
  let msi = 0;
  before(async () => {
    dev = await startDevice();
    c = await RawClient.connect(dev.path);
    await c.enableBusMaster();
    msix = await findCap(c, 0x11);
    msi = await findCap(c, 0x05);
  });
  after(async () => {
    c.close();
    await dev.stop();
  });

  const set = (
    index: number,
    action: IrqSetAction,
    data: IrqSetData,
    start: number,
    count: number,
    extra: { fds?: number[]; bools?: Uint8Array } = {},
  ) =>
    c.call(
      Command.VFIO_USER_DEVICE_SET_IRQS,
      {
        argsz: 20 + (extra.bools?.byteLength ?? 0),
        action,
        data,
        index,
        start,
        count,
        bools: extra.bools,
      },
      { fds: extra.fds },
    );
  const trigger = async (vector: number) => {
    await c.write32(0, REG.IRQ_TRIGGER, vector);
    return c.read32(0, REG.IRQ_RESULT);
  };
  const eventfds = (n: number) => Array.from({ length: n }, () => EventFd.create());
  const counts = (efds: EventFd[]) => efds.map((e) => Number(e.read() ?? 0n));
  const closeAll = (efds: EventFd[]) => {
    for (const e of efds) e.close();
  };

  it("reports each interrupt type as vfio-pci does", async () => {
    const info = async (index: number) =>
      (await c.call(Command.VFIO_USER_DEVICE_GET_IRQ_INFO, { argsz: 16, index })).reply;
    assert.deepEqual(await info(INTX), { argsz: 16, flags: 0x7, index: INTX, count: 1 });
    assert.deepEqual(await info(MSI), { argsz: 16, flags: 0x3, index: MSI, count: 4 });
    assert.deepEqual(await info(MSIX), { argsz: 16, flags: 0x3, index: MSIX, count: 8 });
    assert.deepEqual(await info(ERR), { argsz: 16, flags: 0x9, index: ERR, count: 1 });
    assert.deepEqual(await info(REQ), { argsz: 16, flags: 0x9, index: REQ, count: 1 });
    await rejectsWith(info(5), E.EINVAL);
  });

  it("delivers MSI-X vectors to their eventfds, holds masked ones in the PBA", async () => {
    const efds = eventfds(8);
    try {
      await set(MSIX, "trigger", "eventfd", 0, 8, { fds: efds.map((e) => e.fd) });
      assert.equal(await trigger(3), DELIVERED);
      assert.deepEqual(counts(efds), [0, 0, 0, 1, 0, 0, 0, 0]);
      await set(MSIX, "mask", "none", 3, 1);
      assert.equal(await trigger(3), PENDING);
      assert.equal((await c.regionRead(2, PBA, 1))[0], 1 << 3, "PBA shows the pending vector");
      assert.deepEqual(counts(efds), [0, 0, 0, 0, 0, 0, 0, 0]);
      await set(MSIX, "unmask", "bool", 2, 2, { bools: new Uint8Array([0, 1]) });
      assert.deepEqual(
        counts(efds),
        [0, 0, 0, 1, 0, 0, 0, 0],
        "unmask delivers the pending vector",
      );
      assert.equal((await c.regionRead(2, PBA, 1))[0], 0);

      // Table masking counts once the client programs the table (QEMU never does).
      for (const v of [3, 5]) await c.write32(2, TABLE + v * 16 + 12, 0);
      await c.write32(2, TABLE + 5 * 16 + 12, 1);
      assert.equal(await trigger(5), PENDING);
      assert.equal(await trigger(0), PENDING, "vector 0 is still masked in the table");
      await c.write32(2, TABLE + 5 * 16 + 12, 0);
      assert.deepEqual(counts(efds), [0, 0, 0, 0, 0, 1, 0, 0]);

      const ctrl = msix + 2;
      const flags = await c.read16(7, ctrl);
      await c.write16(7, ctrl, flags | 0xc000); // enable + function mask
      assert.equal(await trigger(3), PENDING);
      await c.write16(7, ctrl, (flags | 0x8000) & ~0x4000);
      assert.deepEqual(counts(efds), [0, 0, 0, 1, 0, 0, 0, 0], "function unmask delivers");

      await set(MSIX, "trigger", "bool", 0, 2, { bools: new Uint8Array([1, 1]) });
      assert.deepEqual(counts(efds).slice(0, 2), [1, 1], "loopback trigger");

      await rejectsWith(
        set(MSI, "trigger", "eventfd", 0, 1, { fds: [efds[0]!.fd] }),
        E.EINVAL,
        "MSI while MSI-X",
      );
      await rejectsWith(
        set(INTX, "trigger", "eventfd", 0, 1, { fds: [efds[0]!.fd] }),
        E.EINVAL,
        "INTx while MSI-X",
      );
      await set(MSIX, "trigger", "eventfd", 3, 1); // QEMU's de-assign: count 1, no fd
      assert.equal(await trigger(3), DROPPED);
      await set(MSIX, "trigger", "none", 0, 0);
      assert.equal(await trigger(4), DROPPED, "disabled");
    } finally {
      closeAll(efds);
    }
  });

  it("validates SET_IRQS ranges, data and descriptors", async () => {
    const [e] = eventfds(1);
    const mem = MemFd.create("not-an-eventfd", 4096);
    try {
      await rejectsWith(
        set(MSIX, "trigger", "eventfd", 7, 2, { fds: [e!.fd, e!.fd] }),
        E.EINVAL,
        "past the table",
      );
      await rejectsWith(
        set(MSIX, "trigger", "eventfd", 0, 1, { fds: [mem.fd] }),
        E.EINVAL,
        "a memfd",
      );
      await rejectsWith(set(MSIX, "mask", "none", 0, 0), E.EINVAL, "count 0 with MASK");
      await rejectsWith(set(ERR, "mask", "none", 0, 1), E.EINVAL, "ERR cannot be masked");
      await rejectsWith(set(INTX, "unmask", "none", 0, 1), E.EINVAL, "INTx not enabled");
      await rejectsWith(set(7, "trigger", "none", 0, 1), E.EINVAL, "no such index");
    } finally {
      e!.close();
      mem.close();
    }
  });

  it("MSI: vectors added in chunks, per-vector mask and pending bits in config space", async () => {
    const efds = eventfds(2);
    try {
      await set(MSI, "trigger", "eventfd", 0, 2, { fds: efds.map((e) => e.fd) });
      assert.equal(await trigger(1), DELIVERED);
      assert.equal(await trigger(2), DROPPED, "no eventfd for vector 2 yet");
      await set(MSI, "trigger", "eventfd", 2, 1, { fds: [efds[0]!.fd] });
      assert.equal(await trigger(2), DELIVERED);
      assert.equal(efds[0]!.read(), 1n);
      const mask = msi + 0x10;
      const pending = msi + 0x14;
      await c.write32(7, mask, 0b10);
      assert.equal(await trigger(1), PENDING);
      assert.equal(await c.read32(7, pending), 0b10);
      await c.write32(7, mask, 0);
      assert.deepEqual(counts(efds), [0, 2]);
      assert.equal(await c.read32(7, pending), 0);
      await set(MSI, "trigger", "none", 0, 0);
    } finally {
      closeAll(efds);
    }
  });

  it("INTx: automask, unmask, status bit, INTX_DISABLE, level and resample eventfd", async () => {
    const [e, u] = eventfds(2);
    const status = async () => (await c.read16(7, PCI_STATUS)) & STATUS_INTERRUPT;
    try {
      await set(INTX, "trigger", "eventfd", 0, 1, { fds: [e!.fd] });
      assert.equal(await trigger(0), DELIVERED);
      assert.equal(await status(), STATUS_INTERRUPT);
      assert.equal(await trigger(0), PENDING, "automasked");
      assert.equal(e!.read(), 1n);
      await set(INTX, "unmask", "none", 0, 1);
      assert.equal(e!.read(), 1n, "the queued pulse follows the EOI");
      await set(INTX, "unmask", "none", 0, 1);
      assert.equal(e!.read(), null);
      assert.equal(await status(), 0);

      await c.write32(0, REG.INTX_LEVEL, 1);
      await set(INTX, "unmask", "none", 0, 1);
      assert.equal(e!.read(), 2n, "a level line re-fires at each unmask");
      await c.write32(0, REG.INTX_LEVEL, 0);
      await set(INTX, "unmask", "none", 0, 1);
      assert.equal(e!.read(), null);

      await c.write16(7, PCI_COMMAND, CMD_IO | CMD_MEMORY | CMD_INTX_DISABLE);
      assert.equal(await trigger(0), PENDING);
      assert.equal(await status(), STATUS_INTERRUPT, "status shows the line regardless");
      await c.write16(7, PCI_COMMAND, CMD_IO | CMD_MEMORY);
      assert.equal(e!.read(), 1n, "delivered once INTX_DISABLE clears");

      await set(INTX, "unmask", "eventfd", 0, 1, { fds: [u!.fd] });
      assert.equal(await trigger(0), PENDING, "still masked from the last delivery");
      u!.signal();
      const deadline = Date.now() + 2000;
      let got: bigint | null = null;
      while (got === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
        got = e!.read();
      }
      assert.equal(got, 1n, "the resample eventfd unmasked");
      await set(INTX, "trigger", "none", 0, 0);
      assert.equal(await trigger(0), DROPPED);
    } finally {
      e!.close();
      u!.close();
    }
  });

  it("ERR and REQ signal their eventfds", async () => {
    const [e, r] = eventfds(2);
    try {
      await c.write32(0, REG.ERR_REQ, 1);
      assert.equal(await c.read32(0, REG.IRQ_RESULT), DROPPED);
      await set(ERR, "trigger", "eventfd", 0, 1, { fds: [e!.fd] });
      await set(REQ, "trigger", "eventfd", 0, 1, { fds: [r!.fd] });
      await c.write32(0, REG.ERR_REQ, 1);
      await c.write32(0, REG.ERR_REQ, 2);
      assert.equal(e!.read(), 1n);
      assert.equal(r!.read(), 1n);
    } finally {
      e!.close();
      r!.close();
    }
  });

  it("DEVICE_RESET disables MSI-X and resets the table", async () => {
    const efds = eventfds(1);
    try {
      await set(MSIX, "trigger", "eventfd", 0, 1, { fds: [efds[0]!.fd] });
      await c.write32(2, TABLE + 12, 0);
      await c.call(Command.VFIO_USER_DEVICE_RESET, {});
      await c.enableBusMaster(); // reset cleared it, as on a function reset
      assert.equal(await trigger(0), DROPPED);
      assert.equal(await c.read32(2, TABLE + 12), 1, "mask bit back to its reset value");
      await set(MSIX, "trigger", "eventfd", 0, 1, { fds: [efds[0]!.fd] });
      assert.equal(await trigger(0), PENDING, "this client programs the table: reset masked it");
      await c.write32(2, TABLE + 12, 0);
      assert.deepEqual(counts(efds), [1]);
    } finally {
      closeAll(efds);
    }
  });
});
