/**
 * The NVMe driver over the loopback backend against our controller model in this
 * process: the suite of nvme-suite.ts, plus what only an in-process model can show
 * (a controller turned fatal from the host side, its memory given back).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLoopback } from "../../../src/client/index.js";
import { MemoryBacking, NvmeController } from "../../../src/devices/nvme/index.js";
import * as cmds from "../../../src/drivers/nvme/commands.js";
import { NvmeController as DriverController } from "../../../src/drivers/nvme/controller.js";
import { encodeSqe } from "../../../src/drivers/nvme/sqe.js";
import { VfioError } from "../../../src/errors.js";
import { createDevice, type PciDevice } from "../../../src/server/index.js";
import { BLOCK, type NvmeTarget, nvmeSuite, pattern, withDriver } from "./nvme-suite.js";

const BLOCKS = 8192;

function loopbackTarget(): NvmeTarget & { current(): NvmeController } {
  let ctrl: NvmeController | undefined;
  let backing: MemoryBacking | undefined;
  let device: PciDevice | undefined;
  return {
    blocks: BLOCKS,
    irqModes: ["msix", "intx", "poll"],
    current: () => ctrl!,
    async open() {
      backing ??= new MemoryBacking(BLOCKS * BLOCK);
      ctrl = new NvmeController({ backing });
      device = createDevice(ctrl.definition);
      const handle = await openLoopback(device);
      return {
        device: handle,
        close: async () => {
          await handle.close();
          device!.close();
        },
      };
    },
    media: (offset, length) => backing!.readSync(offset, length),
  };
}

describe("NVMe driver over loopback against the controller model", () => {
  const target = loopbackTarget();
  nvmeSuite(target);

  it("tells a command that never completes from a controller that has failed (CSTS.CFS)", async () => {
    await withDriver(target, { commandTimeoutMs: 300 }, async (d) => {
      await d.flush(1);
      target.current().injectFatal();
      await assert.rejects(
        d.readBlocks(1, 0, 1),
        (e: unknown) => e instanceof VfioError && e.code === "EIO" && /CSTS\.CFS/.test(e.message),
      );
      assert.equal(await d.controller.fatal(), true);
      await assert.rejects(d.flush(1), /CSTS\.CFS/, "the queues stay failed");
    });
  });

  it("fetches no more than the completion queue can take: a host that never releases completions stalls", async () => {
    const { device, close } = await target.open();
    const c = await DriverController.open(device, { irqMode: "poll", commandTimeoutMs: 2000 });
    try {
      await c.setNumberOfQueues(2);
      // A 4-entry CQ behind a 32-entry SQ, in memory the driver owns.
      const mem = await c.container.allocateBuffer(2 * 4096, { name: "stall" });
      await c.submit({ ...cmds.createIoCq(2, 4, null), prp1: mem.iova }, "CQ 2");
      await c.submit({ ...cmds.createIoSq(2, 32, 2), prp1: mem.iova + 4096n }, "SQ 2");
      const sqRing = new Uint8Array(mem.buffer, 4096, 32 * 64);
      for (let i = 0; i < 31; i++) encodeSqe(sqRing, i * 64, cmds.flush(1), i);
      const model = target.current();
      const sq = model.sqs.get(2)!;
      const cq = model.cqs.get(2)!;
      // A doorbell write is answered once the controller has started fetching: then
      // wait until it stopped and what it fetched has completed.
      const settled = () => sq.idle();
      // Ring in all 31, never ring the CQ head: 3 complete (CQ size - 1), 28 stay in the ring.
      await device.write32(0, 0x1000 + 2 * 2 * 4, 31);
      await settled();
      assert.equal(cq.tail, 3);
      assert.equal(sq.head, 3, "the rest is not fetched");
      assert.equal(cq.waiting.length, 0, "nothing piles up in the controller");
      // Releasing two completions lets two more commands through.
      await device.write32(0, 0x1000 + (2 * 2 + 1) * 4, 2);
      await settled();
      assert.equal(sq.head, 5);
      assert.equal(cq.tail, 1, "two more posted: the 4-entry ring wrapped");
      // Releasing everything, round after round, drains the ring.
      for (let round = 0; round < 20 && sq.head !== 31; round++) {
        await device.write32(0, 0x1000 + (2 * 2 + 1) * 4, cq.tail);
        await settled();
      }
      assert.equal(sq.head, 31);
      assert.equal(await c.fatal(), false);
    } finally {
      await c.close().catch(() => {});
      await close();
    }
  });

  it("gives memory back when whole chunks are deallocated", async () => {
    const backing = new MemoryBacking(8 << 20);
    await backing.write(0, pattern(3 << 20, 1));
    assert.equal(backing.allocatedChunks, 3);
    await backing.zero(0, 2 << 20);
    assert.equal(backing.allocatedChunks, 1);
    assert.deepEqual(backing.readSync(0, 2 << 20), new Uint8Array(2 << 20));
    assert.deepEqual(backing.readSync(2 << 20, 1 << 20), pattern(3 << 20, 1).subarray(2 << 20));
  });
});
