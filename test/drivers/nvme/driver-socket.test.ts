/**
 * The NVMe driver over a real vfio-user socket against `serve-nvme` (our controller
 * model) in a child process, with the namespace in a file this test reads back: the
 * same suite as over loopback, and the hostile queue set-ups a client can try.
 */
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { VfioUserClient } from "../../../src/client/index.js";
import * as cmds from "../../../src/drivers/nvme/commands.js";
import { NvmeController } from "../../../src/drivers/nvme/controller.js";
import { ServerProcess } from "../../../src/harness/server-process.js";
import { BLOCK, type NvmeTarget, nvmeSuite, pattern, withDriver } from "./nvme-suite.js";

const ENTRY = fileURLToPath(new URL("../../../src/harness/serve-nvme.js", import.meta.url));
const BLOCKS = 16384;

let server: ServerProcess;
let dir: string;
let image: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vfio-ts-nvme-"));
  image = join(dir, "disk.img");
  closeSync(openSync(image, "w"));
  const s = await ServerProcess.start({
    entry: ENTRY,
    args: ["--backing", image, "--size", String(BLOCKS * BLOCK)],
  });
  s.socket.close();
  server = s.server;
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const target: NvmeTarget = {
  blocks: BLOCKS,
  irqModes: ["msix", "intx", "poll"],
  async open() {
    const client = await VfioUserClient.fromSocket(await server.connect(), { name: "nvme" });
    return { device: client.device, close: () => client.close() };
  },
  media(offset, length) {
    const fd = openSync(image, "r");
    try {
      const out = new Uint8Array(length);
      readSync(fd, out, 0, length, offset);
      return out;
    } finally {
      closeSync(fd);
    }
  },
};

describe("NVMe driver over a vfio-user socket against serve-nvme in a child process", () => {
  nvmeSuite(target);

  it("ignores invalid doorbell writes and reports them as asynchronous events", async () => {
    await withDriver(target, {}, async (d, device) => {
      const aer = d.adminCommand({ opcode: 0x0c }, "Asynchronous Event Request");
      await device.write32(0, 0x1000 + 2 * 4, 0xffff); // SQ 1 tail far beyond its size
      const { completion } = await aer;
      // Error event (type 0), Invalid Doorbell Write Value (1), Error log (0x01).
      assert.equal(completion.result, 0x00_01_01_00);
      const again = d.adminCommand({ opcode: 0x0c }, "Asynchronous Event Request");
      await device.write32(0, 0x1000 + 2 * 9 * 4, 1); // SQ 9 does not exist
      assert.equal((await again).completion.result, 0x00_01_00_00);
      await d.writeBlocks(1, 7, pattern(BLOCK, 3));
      assert.deepEqual(await d.readBlocks(1, 7, 1), pattern(BLOCK, 3));
    });
  });

  it("turns fatal (CSTS.CFS) on queues in unmapped memory, and the server lives", async () => {
    const { device, close } = await target.open();
    const c = await NvmeController.open(device, { irqMode: "poll", commandTimeoutMs: 2000 });
    try {
      await c.setNumberOfQueues(4);
      // The largest queues, in memory nobody mapped: the controller cannot know, so
      // they are created, and the first fetch faults.
      const nowhere = 0x7fff_0000_0000n;
      await c.submit({ ...cmds.createIoCq(2, 1024, null), prp1: nowhere }, "CQ 2");
      await c.submit({ ...cmds.createIoSq(2, 1024, 2), prp1: nowhere + 0x10000n }, "SQ 2");
      await device.write32(0, 0x1000 + 2 * 2 * 4, 1023);
      for (let i = 0; i < 100 && !(await c.fatal()); i++) await delay(10);
      assert.equal(await c.fatal(), true);
      await assert.rejects(c.getFeature(0x08), /CSTS\.CFS/);
    } finally {
      await c.close().catch(() => {});
      await close();
    }
    // A new driver disables the controller, which clears CFS, and works.
    await withDriver(target, {}, async (d) => {
      assert.deepEqual(await d.readBlocks(1, 7, 1), pattern(BLOCK, 3));
    });
    assert.equal(server.exited, false);
  });
});
