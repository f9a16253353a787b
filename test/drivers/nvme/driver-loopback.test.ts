/**
 * The NVMe driver over the loopback backend against the fake controller of
 * fake-nvme.ts: what runs in `npm test` without a guest. Data is checked against the
 * controller's own storage, so a block landing at the wrong LBA cannot pass.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { openLoopback } from "../../../src/client/index.js";
import * as cmds from "../../../src/drivers/nvme/commands.js";
import { NvmeDriver, type NvmeDriverOptions } from "../../../src/drivers/nvme/driver.js";
import { NvmeError } from "../../../src/drivers/nvme/status.js";
import { VfioError } from "../../../src/errors.js";
import { type FakeNvme, fakeNvme } from "./fake-nvme.js";

const BLOCKS = 2048;

async function withFake(
  options: NvmeDriverOptions,
  fn: (d: NvmeDriver, fake: FakeNvme) => Promise<void>,
) {
  const fake = fakeNvme(BLOCKS);
  const handle = await openLoopback(fake.device);
  try {
    const d = await NvmeDriver.open(handle, { commandTimeoutMs: 10_000, ...options });
    try {
      await fn(d, fake);
    } finally {
      await d.close();
    }
  } finally {
    await handle.close();
    fake.device.close();
  }
}

function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 13 + seed * 29 + (i >> 9)) & 0xff;
  return out;
}

describe("NVMe driver over loopback against a fake controller", () => {
  for (const irqMode of ["msix", "poll"] as const) {
    it(`brings it up, identifies it and moves data split at MDTS with ${irqMode}`, async () => {
      await withFake({ irqMode, ioQueues: 2 }, async (d, fake) => {
        const { controller, namespaces } = d.identify();
        assert.equal(controller.model, "vfio-ts fake NVMe");
        assert.equal(controller.serial, "fake-serial");
        assert.deepEqual(
          namespaces.map((n) => [n.nsid, n.blockSize, n.blocks]),
          [[1, 512, BigInt(BLOCKS)]],
        );
        assert.equal(d.maxTransferBytes, 16 * 1024, "MDTS 2 with 4 KiB pages");
        assert.equal(d.queues.length, 2);
        assert.equal(d.controller.irqs.mode, irqMode);
        // 100 blocks = 50 KiB: four commands, three of them with PRP lists.
        const data = pattern(100 * 512, 1);
        const before = fake.completed;
        await d.writeBlocks(1, 300, data);
        assert.equal(fake.completed - before, 4);
        assert.deepEqual(
          fake.storage.subarray(300 * 512, 400 * 512),
          data,
          "on the controller's media",
        );
        assert.deepEqual(await d.readBlocks(1, 300, 100), data);
        assert.ok(d.controller.irqs.wakeups > 0);
      });
    });
  }

  it("matches a plain array for random writes, reads, zeroes and deallocates (fast-check)", async () => {
    await withFake({}, async (d, fake) => {
      const model = new Uint8Array(BLOCKS * 512);
      const range = fc.record({
        lba: fc.integer({ min: 0, max: 255 }),
        n: fc.integer({ min: 1, max: 70 }),
      });
      const op = fc.oneof(
        fc.record({ kind: fc.constant("write" as const), r: range, seed: fc.nat(255) }),
        fc.record({ kind: fc.constant("read" as const), r: range }),
        fc.record({ kind: fc.constant("zeroes" as const), r: range }),
        fc.record({ kind: fc.constant("deallocate" as const), r: range }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), async (ops) => {
          for (const o of ops) {
            const { lba, n } = o.r;
            if (o.kind === "write") {
              const data = pattern(n * 512, o.seed);
              await d.writeBlocks(1, lba, data);
              model.set(data, lba * 512);
            } else if (o.kind === "read") {
              assert.deepEqual(
                await d.readBlocks(1, lba, n),
                model.subarray(lba * 512, (lba + n) * 512),
              );
            } else {
              await (o.kind === "zeroes" ? d.writeZeroes(1, lba, n) : d.deallocate(1, lba, n));
              model.fill(0, lba * 512, (lba + n) * 512);
            }
          }
          assert.deepEqual(fake.storage.subarray(0, 326 * 512), model.subarray(0, 326 * 512));
        }),
        { numRuns: 40 },
      );
    });
  });

  it("reports the controller's status for bad commands as NvmeErrors", async () => {
    await withFake({}, async (d) => {
      const is = (sct: number, sc: number) => (e: unknown) =>
        e instanceof NvmeError && e.sct === sct && e.sc === sc;
      await assert.rejects(d.ioCommand({ opcode: 0x7f, nsid: 1 }, "bad"), is(0, 0x01));
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, 1, BigInt(BLOCKS), 1), "past the end", { length: 512 }),
        is(0, 0x80),
      );
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, 2, 0n, 1), "nsid 2", { length: 512 }),
        is(0, 0x0b),
      );
      await assert.rejects(d.adminCommand(cmds.deleteIoSq(3), "Delete SQ 3"), is(1, 0x01));
      await assert.rejects(d.adminCommand(cmds.deleteIoCq(1), "Delete CQ 1"), is(1, 0x0c));
      assert.equal((await d.smartLog()).hostWriteCommands, 0n);
      await d.writeBlocks(1, 0, new Uint8Array(512));
      assert.equal((await d.smartLog()).hostWriteCommands, 1n);
    });
  });

  it("tells a command that never completes from a controller that has failed (CSTS.CFS)", async () => {
    await withFake({ commandTimeoutMs: 300 }, async (d, fake) => {
      await d.flush(1);
      fake.fail();
      await assert.rejects(
        d.readBlocks(1, 0, 1),
        (e: unknown) => e instanceof VfioError && e.code === "EIO" && /CSTS\.CFS/.test(e.message),
      );
      assert.equal(await d.controller.fatal(), true);
      await assert.rejects(d.flush(1), /CSTS\.CFS/, "the queues stay failed");
    });
  });
});
