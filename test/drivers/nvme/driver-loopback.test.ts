/**
 * The NVMe driver over the loopback backend against our controller model in this
 * process: the suite of nvme-suite.ts, plus what only an in-process model can show
 * (a controller turned fatal from the host side, its memory given back).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLoopback } from "../../../src/client/index.js";
import { MemoryBacking, NvmeController } from "../../../src/devices/nvme/index.js";
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
