/**
 * The NVMe driver's suite against our controller model (src/devices/nvme), run over
 * two transports: the loopback backend in this process, and a real vfio-user socket
 * to a server in a child process. Data is checked against the namespace's own storage
 * (the model's memory, or the backing file the child writes), so a block landing at
 * the wrong LBA cannot pass.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import fc from "fast-check";
import type { DeviceHandle } from "../../../src/client/device-handle.js";
import * as cmds from "../../../src/drivers/nvme/commands.js";
import { NvmeController } from "../../../src/drivers/nvme/controller.js";
import { NvmeDriver, type NvmeDriverOptions } from "../../../src/drivers/nvme/driver.js";
import type { NvmeCommand } from "../../../src/drivers/nvme/sqe.js";
import { NvmeError } from "../../../src/drivers/nvme/status.js";

export const BLOCK = 512;

/** Where the suite runs: a device handle on a fresh controller, and its media. */
export interface NvmeTarget {
  readonly blocks: number;
  readonly irqModes: readonly NonNullable<NvmeDriverOptions["irqMode"]>[];
  open(): Promise<{ device: DeviceHandle; close(): Promise<void> }>;
  /** The namespace's bytes [offset, +length) as stored by the controller. */
  media(offset: number, length: number): Uint8Array;
}

export function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 13 + seed * 29 + (i >> 9)) & 0xff;
  return out;
}

export const is = (sct: number, sc: number) => (e: unknown) =>
  e instanceof NvmeError && e.sct === sct && e.sc === sc;

export async function withDriver(
  target: NvmeTarget,
  options: NvmeDriverOptions,
  fn: (d: NvmeDriver, device: DeviceHandle) => Promise<void>,
): Promise<void> {
  const { device, close } = await target.open();
  try {
    const d = await NvmeDriver.open(device, { commandTimeoutMs: 10_000, ...options });
    try {
      await fn(d, device);
    } finally {
      await d.close();
    }
  } finally {
    await close();
  }
}

export function nvmeSuite(target: NvmeTarget): void {
  const { blocks } = target;

  for (const irqMode of target.irqModes) {
    it(`brings it up, identifies it and moves data split at MDTS with ${irqMode}`, async () => {
      await withDriver(target, { irqMode, ioQueues: 2 }, async (d) => {
        const { controller, namespaces, version } = d.identify();
        assert.equal(controller.model, "vfio-ts NVMe");
        assert.equal(controller.serial, "VFIOTS0001");
        assert.equal(controller.vendorId, 0x1b36);
        assert.equal(version, "1.4.0");
        assert.deepEqual(
          namespaces.map((n) => [n.nsid, n.blockSize, n.blocks]),
          [[1, BLOCK, BigInt(blocks)]],
        );
        assert.equal(d.maxTransferBytes, 128 * 1024, "MDTS 5 with 4 KiB pages");
        assert.equal(d.queues.length, 2);
        assert.equal(d.controller.irqs.mode, irqMode);
        // 600 blocks = 300 KiB: three commands, each with a PRP list.
        const data = pattern(600 * BLOCK, 1);
        const before = (await d.smartLog()).hostWriteCommands;
        await d.writeBlocks(1, 300, data);
        assert.equal((await d.smartLog()).hostWriteCommands - before, 3n);
        assert.deepEqual(target.media(300 * BLOCK, 600 * BLOCK), data, "on the namespace");
        assert.deepEqual(await d.readBlocks(1, 300, 600), data);
        // One block, one page, two pages: PRP1 alone, PRP1 + PRP2.
        for (const n of [1, 8, 16]) {
          const small = pattern(n * BLOCK, n);
          await d.writeBlocks(1, 2000 + n, small);
          assert.deepEqual(await d.readBlocks(1, 2000 + n, n), small);
        }
        if (irqMode !== "poll") assert.ok(d.controller.irqs.wakeups > 0);
      });
    });
  }

  it("matches a plain array for random writes, reads, zeroes and deallocates (fast-check)", async () => {
    await withDriver(target, {}, async (d) => {
      const model = target.media(0, 400 * BLOCK).slice();
      const range = fc.record({
        lba: fc.integer({ min: 0, max: 255 }),
        n: fc.integer({ min: 1, max: 140 }),
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
              const data = pattern(n * BLOCK, o.seed);
              await d.writeBlocks(1, lba, data);
              model.set(data, lba * BLOCK);
            } else if (o.kind === "read") {
              assert.deepEqual(
                await d.readBlocks(1, lba, n),
                model.subarray(lba * BLOCK, (lba + n) * BLOCK),
              );
            } else {
              await (o.kind === "zeroes" ? d.writeZeroes(1, lba, n) : d.deallocate(1, lba, n));
              model.fill(0, lba * BLOCK, (lba + n) * BLOCK);
            }
          }
          assert.deepEqual(target.media(0, 400 * BLOCK), model);
        }),
        { numRuns: 30 },
      );
    });
  });

  it("gives bad commands the spec's status and carries on", async () => {
    await withDriver(target, {}, async (d) => {
      await assert.rejects(d.ioCommand({ opcode: 0x7f, nsid: 1 }, "bad"), is(0, 0x01));
      await assert.rejects(d.adminCommand({ opcode: 0x7f }, "bad admin"), is(0, 0x01));
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, 1, BigInt(blocks), 1), "past the end", { length: 512 }),
        is(0, 0x80),
      );
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, 1, BigInt(blocks) - 1n, 2), "across the end", {
          length: 1024,
        }),
        is(0, 0x80),
      );
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, 2, 0n, 1), "nsid 2", { length: 512 }),
        is(0, 0x0b),
      );
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, 0, 0n, 1), "nsid 0", { length: 512 }),
        is(0, 0x0b),
      );
      await assert.rejects(d.adminCommand(cmds.deleteIoSq(9), "Delete SQ 9"), is(1, 0x01));
      await assert.rejects(
        d.adminCommand(cmds.deleteIoCq(1), "Delete CQ 1 with its SQ"),
        is(1, 0x0c),
      );
      await assert.rejects(d.adminCommand(cmds.deleteIoCq(0), "Delete the admin CQ"), is(1, 0x01));
      await assert.rejects(
        d.adminCommand(cmds.createIoCq(1, 16, 1), "Create CQ 1 again"),
        is(1, 0x01),
      );
      await assert.rejects(
        d.adminCommand(cmds.createIoCq(2, 16, 1), "a CQ beyond Number of Queues"),
        is(1, 0x01),
      );
      await assert.rejects(d.adminCommand(cmds.identify(0x55), "CNS 0x55"), is(0, 0x02));
      await assert.rejects(
        d.adminCommand(cmds.getLogPage(0x7e, 512), "log page 0x7e", { length: 512 }),
        is(1, 0x09),
      );
      await assert.rejects(d.adminCommand(cmds.getFeatures(0x7e), "feature 0x7e"), is(0, 0x02));
      await assert.rejects(
        d.adminCommand(cmds.setFeatures(0x07, 0x0003_0003), "queues after creation"),
        is(0, 0x0c),
      );
      await assert.rejects(
        d.adminCommand(cmds.setFeatures(0x08, 0x0101, 0, true), "save a feature"),
        is(1, 0x0d),
      );
      // And the good ones around them still work.
      await d.writeBlocks(1, 0, pattern(BLOCK, 9));
      assert.deepEqual(await d.readBlocks(1, 0, 1), pattern(BLOCK, 9));
      await d.flush(1);
      assert.equal(await d.controller.setFeature(0x08, 0x0a04), 0);
      assert.equal(await d.controller.getFeature(0x08), 0x0a04);
      assert.equal(await d.controller.abort(1, 0), false);
      const smart = await d.smartLog();
      assert.ok(smart.hostWriteCommands >= 1n);
    });
  });

  it("checks every field of Create I/O CQ/SQ (a controller with no I/O queues yet)", async () => {
    const { device, close } = await target.open();
    const c = await NvmeController.open(device, { irqMode: "poll", commandTimeoutMs: 10_000 });
    try {
      assert.deepEqual(await c.setNumberOfQueues(4), { submission: 4, completion: 4 });
      const admin = (cmd: NvmeCommand, what: string) => c.submit(cmd, what);
      const page = 0x7000_0000n; // never touched: every create below fails first
      await assert.rejects(admin(cmds.createIoCq(0, 16, 0), "CQ 0"), is(1, 0x01));
      await assert.rejects(admin(cmds.createIoCq(5, 16, 0), "CQ 5 of 4"), is(1, 0x01));
      await assert.rejects(
        admin({ ...cmds.createIoCq(2, 2, 0), cdw10: 2, prp1: page }, "a 1-entry CQ"),
        is(1, 0x02),
      );
      await assert.rejects(
        admin({ ...cmds.createIoCq(2, 4096, 0), prp1: page }, "a CQ beyond MQES"),
        is(1, 0x02),
      );
      await assert.rejects(
        admin({ ...cmds.createIoCq(2, 16, 0), prp1: 0x1234n }, "a CQ off a page"),
        is(0, 0x13),
      );
      await assert.rejects(
        admin({ ...cmds.createIoCq(2, 16, 0), cdw11: 2, prp1: page }, "a CQ not contiguous"),
        is(0, 0x02),
      );
      await assert.rejects(
        admin({ ...cmds.createIoCq(2, 16, 200), prp1: page }, "a vector the device lacks"),
        is(1, 0x08),
      );
      await assert.rejects(
        admin({ ...cmds.createIoSq(2, 16, 3), prp1: page }, "an SQ on no CQ"),
        is(1, 0x00),
      );
      await assert.rejects(
        admin({ ...cmds.createIoSq(2, 16, 0), prp1: page }, "an SQ on the admin CQ"),
        is(1, 0x00),
      );
      await assert.rejects(admin(cmds.deleteIoSq(2), "Delete SQ 2"), is(1, 0x01));
      await assert.rejects(admin(cmds.deleteIoCq(2), "Delete CQ 2"), is(1, 0x01));
      await assert.rejects(admin(cmds.setNumberOfQueues(0x10000, 1), "65536 queues"), is(0, 0x02));
    } finally {
      await c.close();
      await close();
    }
  });
}
