/**
 * MSI-X as QEMU's vfio-user-pci drives it. QEMU emulates the MSI-X table itself and
 * never writes ours; it enables MSI-X with an fd-less SET_IRQS (its "-1" eventfd for
 * vector 0, sent as a chunk without descriptors) before any vector has an eventfd,
 * assigns eventfds one vector at a time as the guest unmasks them, masks and unmasks
 * with SET_IRQS ACTION_MASK/UNMASK per vector, and reads only the PBA from us. This
 * client sends exactly that sequence to a device in another process.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Command, type IrqSetAction, type IrqSetData } from "../../src/protocol/index.js";
import { EventFd } from "../../src/sys/index.js";
import { REG } from "../fixtures/test-device-regs.js";
import { type DeviceProcess, startDevice } from "./harness.js";
import { RawClient } from "./raw-client.js";

const MSIX = 2;
const DELIVERED = 0;
const PENDING = 1;
const PBA = 0x3000;

describe("server: MSI-X under QEMU's sequence (fd-less enable, per-vector MASK/UNMASK, PBA reads)", () => {
  let dev: DeviceProcess;
  let c: RawClient;
  before(async () => {
    dev = await startDevice();
    c = await RawClient.connect(dev.path);
    await c.enableBusMaster();
  });
  after(async () => {
    c.close();
    await dev.stop();
  });

  const set = (
    action: IrqSetAction,
    data: IrqSetData,
    start: number,
    count: number,
    fds?: number[],
  ) =>
    c.call(
      Command.VFIO_USER_DEVICE_SET_IRQS,
      { argsz: 20, action, data, index: MSIX, start, count },
      { fds },
    );
  const trigger = async (vector: number) => {
    await c.write32(0, REG.IRQ_TRIGGER, vector);
    return c.read32(0, REG.IRQ_RESULT);
  };
  const pba = async () => (await c.regionRead(2, PBA, 1))[0];
  const count = (e: EventFd) => Number(e.read() ?? 0n);

  it("holds a masked vector's interrupt in the PBA and delivers it on unmask", async () => {
    const [e0, e1] = [EventFd.create(), EventFd.create()];
    try {
      // vfio_enable_msix_no_vec: MSI-X on, no vector in use. Masking works from now on.
      await set("trigger", "eventfd", 0, 1);
      await set("mask", "none", 1, 1);
      assert.equal(await trigger(1), PENDING, "masked before it has an eventfd");
      assert.equal(await pba(), 1 << 1, "the PBA QEMU reads shows it");

      // The guest unmasks vectors 0 and 1: QEMU sends their eventfds one at a time.
      await set("trigger", "eventfd", 0, 1, [e0.fd]);
      await set("trigger", "eventfd", 1, 1, [e1.fd]);
      assert.equal(count(e1), 0, "still masked by the client");
      assert.equal(await trigger(0), DELIVERED);
      assert.equal(count(e0), 1);

      await set("unmask", "none", 1, 1);
      assert.equal(count(e1), 1, "unmask delivered the pending interrupt once");
      assert.equal(await pba(), 0, "and cleared its pending bit");

      // The guest masks vector 0 (QEMU: ACTION_MASK), the device raises it, the guest
      // polls the PBA, then unmasks.
      await set("mask", "none", 0, 1);
      assert.equal(await trigger(0), PENDING);
      assert.equal(await trigger(0), PENDING, "a second raise while masked stays one bit");
      assert.equal(await pba(), 1 << 0);
      assert.equal(count(e0), 0);
      await set("unmask", "none", 0, 1);
      assert.equal(count(e0), 1, "one interrupt for the two raises, as MSI-X has");
      assert.equal(await pba(), 0);

      // Disabling MSI-X (count 0) forgets masks and pending bits.
      await set("mask", "none", 1, 1);
      assert.equal(await trigger(1), PENDING);
      await set("trigger", "none", 0, 0);
      assert.equal(await pba(), 0);
    } finally {
      e0.close();
      e1.close();
    }
  });
});
