/**
 * The NVMe driver of src/drivers/nvme against QEMU 7.2's own C `nvme` controller,
 * through the guest kernel's vfio-pci, as an unprivileged user. QEMU's model is the
 * reference: what it reports (identity, sizes, status codes for bad commands) is
 * what the spec says a controller reports, and the driver must get the data right.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { DeviceHandle } from "../../../src/client/device-handle.js";
import { openKernelDevice } from "../../../src/client/kernel/index.js";
import * as cmds from "../../../src/drivers/nvme/commands.js";
import { NvmeDriver, type NvmeDriverOptions } from "../../../src/drivers/nvme/driver.js";
import { NvmeError, SCT_COMMAND_SPECIFIC, SCT_GENERIC } from "../../../src/drivers/nvme/status.js";
import { CLI } from "./find.js";

const NSID = 1;
const BLOCK = 512;

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set by the guest script`);
  return v;
}

/** Bytes that differ per block and per call, so a misplaced block cannot pass. */
function pattern(blocks: number, seed: number): Uint8Array {
  const out = new Uint8Array(blocks * BLOCK);
  for (let i = 0; i < out.length; i++) out[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return out;
}

function nvmeStatus(sct: number, sc: number, name: string) {
  return (e: unknown) => {
    assert.ok(e instanceof NvmeError, `expected an NvmeError, got ${String(e)}`);
    assert.equal(e.statusName, name);
    assert.equal(e.sct, sct, e.message);
    assert.equal(e.sc, sc, e.message);
    return true;
  };
}

describe("the NVMe driver against QEMU's nvme through kernel VFIO, as a non-root user", () => {
  let dev: DeviceHandle;
  const started = Date.now();
  const blocks = BigInt(Number(env("VFIO_TS_NVME_BYTES")) / BLOCK);

  before(async () => {
    assert.notEqual(process.getuid?.(), 0, "these tests must run unprivileged");
    dev = await openKernelDevice(env("VFIO_TS_NVME"));
  });
  after(async () => {
    await dev?.close();
  });

  async function withDriver(options: NvmeDriverOptions, fn: (d: NvmeDriver) => Promise<void>) {
    const driver = await NvmeDriver.open(dev, { commandTimeoutMs: 20_000, ...options });
    try {
      await fn(driver);
    } finally {
      await driver.close();
    }
  }

  it("brings the controller up and identifies it, its namespace and the size QEMU was given", async (t) => {
    await withDriver({}, async (d) => {
      const { controller, namespaces, version } = d.identify();
      t.diagnostic(
        `nvme: ${controller.model} fw ${controller.firmware}, NVMe ${version}, mdts ${controller.mdts}`,
      );
      assert.equal(controller.serial, env("VFIO_TS_NVME_SERIAL"));
      assert.equal(controller.model, "QEMU NVMe Ctrl");
      assert.equal(controller.vendorId, 0x1b36);
      assert.ok(controller.namespaces >= 1);
      assert.equal(controller.sqesMin, 6);
      assert.equal(controller.cqesMin, 4);
      assert.deepEqual(
        namespaces.map((n) => n.nsid),
        [NSID],
      );
      assert.equal(namespaces[0]!.blockSize, BLOCK);
      assert.equal(namespaces[0]!.blocks, blocks);
      assert.equal(d.controller.cap.doorbellStride, 4);
      assert.ok(d.controller.cap.maxQueueEntries >= 64);
      assert.match(version, /^1\.[4-9]\.|^2\./);
      assert.equal(d.controller.irqs.mode, "msix");
      assert.equal(
        d.controller.irqs.vectorCount,
        2,
        "one vector for the admin queue, one for the I/O queue",
      );
      assert.equal(d.queues.length, 1);
    });
  });

  for (const irqMode of ["msix", "poll", "intx"] as const) {
    it(`writes and reads back single-page, two-page and PRP-list transfers with ${irqMode}`, async () => {
      await withDriver({ irqMode }, async (d) => {
        assert.equal(d.controller.irqs.mode, irqMode);
        assert.deepEqual(dev.irqs.enabledIndexes().length, irqMode === "poll" ? 0 : 1);
        // 1 block; 8 (one page); 9 (PRP1 + PRP2); 64 (a PRP list); with MSI-X also 1024 =
        // 512 KiB, split at the driver's 128 KiB into four commands with a PRP list each.
        let lba = 1000n;
        const seed = irqMode.length;
        for (const n of irqMode === "msix" ? [1, 8, 9, 64, 1024] : [1, 8, 9, 64]) {
          const data = pattern(n, seed + n);
          await d.writeBlocks(NSID, lba, data);
          const back = await d.readBlocks(NSID, lba, n);
          assert.deepEqual(back, data, `${n} blocks at LBA ${lba}`);
          lba += BigInt(n) + 7n;
        }
        if (irqMode !== "poll")
          assert.ok(d.controller.irqs.wakeups > 0, "completions came by interrupt");
        else assert.ok(d.controller.irqs.wakeups > 0, "the poller found the completions");
      });
    });
  }

  it("spreads I/O over two queue pairs with a vector each, reads overlapping in flight", async () => {
    await withDriver({ ioQueues: 2, transferSlots: 4 }, async (d) => {
      assert.equal(d.queues.length, 2);
      assert.equal(d.controller.irqs.vectorCount, 3);
      const writes = [0, 1, 2, 3, 4, 5].map((i) =>
        d.writeBlocks(NSID, 5000 + i * 16, pattern(16, 100 + i)),
      );
      await Promise.all(writes);
      const reads = await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) => d.readBlocks(NSID, 5000 + i * 16, 16)),
      );
      for (const [i, r] of reads.entries()) assert.deepEqual(r, pattern(16, 100 + i), `range ${i}`);
      assert.ok(
        d.queues.every((q) => q.completions >= 6),
        "both queues carried commands",
      );
    });
  });

  it("gives back what a plain array gives back, for random writes and reads (fast-check)", async () => {
    // A window of 256 blocks at LBA 20000, modelled as an array of bytes.
    const base = 20000;
    const window = 256;
    await withDriver({ maxTransferBytes: 16 * 1024 }, async (d) => {
      const model = new Uint8Array(window * BLOCK);
      await d.writeBlocks(NSID, base, model);
      const op = fc.oneof(
        fc.record({
          kind: fc.constant("write" as const),
          lba: fc.integer({ min: 0, max: window - 1 }),
          n: fc.integer({ min: 1, max: 80 }),
          seed: fc.integer({ min: 0, max: 255 }),
        }),
        fc.record({
          kind: fc.constant("read" as const),
          lba: fc.integer({ min: 0, max: window - 1 }),
          n: fc.integer({ min: 1, max: 80 }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
          for (const o of ops) {
            const n = Math.min(o.n, window - o.lba);
            if (o.kind === "write") {
              const data = pattern(n, o.seed);
              await d.writeBlocks(NSID, base + o.lba, data);
              model.set(data, o.lba * BLOCK);
            } else {
              const got = await d.readBlocks(NSID, base + o.lba, n);
              assert.deepEqual(got, model.subarray(o.lba * BLOCK, (o.lba + n) * BLOCK));
            }
          }
        }),
        { numRuns: 15 },
      );
    });
  });

  it("flushes, writes zeroes and deallocates", async () => {
    await withDriver({}, async (d) => {
      const lba = 30000; // 4 KiB aligned, as discards are
      await d.writeBlocks(NSID, lba, pattern(32, 9));
      await d.flush(NSID);
      await d.writeZeroes(NSID, lba + 8, 8);
      const afterZeroes = await d.readBlocks(NSID, lba, 32);
      const expected = pattern(32, 9);
      expected.fill(0, 8 * BLOCK, 16 * BLOCK);
      assert.deepEqual(afterZeroes, expected);
      await d.deallocate(NSID, lba + 16, 16);
      // QEMU 7.2 promises (DLFEAT bits 2:0 = 1) that deallocated blocks read as zeroes,
      // and its image has discard=unmap, so the blocks really go.
      assert.equal(d.namespace(NSID).identify.deallocateFeatures & 0x7, 1);
      const back = await d.readBlocks(NSID, lba + 16, 16);
      assert.ok(
        back.every((b) => b === 0),
        "deallocated blocks read as zeroes",
      );
      assert.deepEqual(
        await d.readBlocks(NSID, lba, 16),
        expected.subarray(0, 16 * BLOCK),
        "the rest is intact",
      );
    });
  });

  it("reads the SMART log, and Get/Set Features round-trips", async () => {
    await withDriver({}, async (d) => {
      const before = await d.smartLog();
      await d.writeBlocks(NSID, 40000, pattern(8, 1));
      const later = await d.smartLog();
      assert.ok(later.hostWriteCommands > before.hostWriteCommands, "the write was counted");
      assert.ok(later.temperatureKelvin > 200, `temperature ${later.temperatureKelvin} K`);
      const queues = cmds.decodeNumberOfQueues(
        await d.controller.getFeature(cmds.FID_NUMBER_OF_QUEUES),
      );
      assert.ok(queues.submission >= 1 && queues.completion >= 1);
      // Temperature threshold (over, composite sensor): set then get.
      await d.controller.setFeature(cmds.FID_TEMPERATURE_THRESHOLD, 350);
      assert.equal((await d.controller.getFeature(cmds.FID_TEMPERATURE_THRESHOLD)) & 0xffff, 350);
      // Abort of a command that is not outstanding: the controller did not abort anything.
      assert.equal(await d.controller.abort(1, 0x7ff), false);
    });
  });

  it("gets the spec's status for bad commands, and carries on", async () => {
    await withDriver({}, async (d) => {
      const one = { length: BLOCK };
      await assert.rejects(
        d.ioCommand({ opcode: 0x7f, nsid: NSID }, "I/O opcode 0x7f"),
        nvmeStatus(SCT_GENERIC, 0x01, "Invalid Command Opcode"),
      );
      await assert.rejects(
        d.adminCommand({ opcode: 0x7f }, "admin opcode 0x7f"),
        nvmeStatus(SCT_GENERIC, 0x01, "Invalid Command Opcode"),
      );
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, NSID, blocks, 1), "Read past the end", one),
        nvmeStatus(SCT_GENERIC, 0x80, "LBA Out of Range"),
      );
      await assert.rejects(
        d.ioCommand(cmds.readWrite(false, 0, 0n, 1), "Read of NSID 0", one),
        nvmeStatus(SCT_GENERIC, 0x0b, "Invalid Namespace or Format"),
      );
      await assert.rejects(
        d.adminCommand(cmds.deleteIoSq(99), "Delete I/O SQ 99"),
        nvmeStatus(SCT_COMMAND_SPECIFIC, 0x01, "Invalid Queue Identifier"),
      );
      await assert.rejects(
        d.adminCommand(cmds.deleteIoCq(1), "Delete I/O CQ 1 while SQ 1 uses it"),
        nvmeStatus(SCT_COMMAND_SPECIFIC, 0x0c, "Invalid Queue Deletion"),
      );
      await assert.rejects(
        d.readBlocks(NSID, blocks, 1),
        /outside namespace 1/,
        "the block API checks first",
      );
      const data = pattern(2, 77);
      await d.writeBlocks(NSID, 50000, data);
      assert.deepEqual(await d.readBlocks(NSID, 50000, 2), data, "the driver carries on");
    });
  });

  it("vfio-ts nvme write, read and identify --device work as the driver does", async (t) => {
    // A group node opens once: the commands need the device this suite holds.
    await dev.close();
    const nvme = (...args: string[]) => {
      const r = spawnSync(
        process.execPath,
        [CLI, "nvme", ...args, "--device", env("VFIO_TS_NVME")],
        {
          encoding: "utf8",
          timeout: 60_000,
        },
      );
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(
      nvme("write", "--lba", "60000", "--pattern", "0x5a", "--count", "2"),
      "wrote 2 blocks at LBA 60000 of namespace 1\n",
    );
    const dump = nvme("read", "--lba", "60000", "--count", "2").trimEnd().split("\n");
    assert.equal(dump.length, 1024 / 16);
    assert.ok(
      dump.every((l) => /^[0-9a-f]+: (5a ){15}5a$/.test(l)),
      dump[0],
    );
    const id = nvme("identify");
    assert.match(id, /model\s+QEMU NVMe Ctrl/);
    assert.match(id, new RegExp(`serial\\s+${env("VFIO_TS_NVME_SERIAL")}`));
    assert.match(id, new RegExp(`namespace 1: ${blocks} blocks of 512 bytes`));
    t.diagnostic(`the nvme suite took ${Date.now() - started} ms in the guest`);
  });
});
