/**
 * DeviceHandle.writePosted against the real VfioUserServer in another process
 * (test/fixtures/client-device): REGION_WRITE with NO_REPLY.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { VFIO_PCI_CONFIG_REGION_INDEX } from "../../src/client/vfio-abi.js";
import { VfioUserClient } from "../../src/client/vfio-user-client.js";
import { PCI_COMMAND, PCI_COMMAND_MEMORY } from "../../src/pci/regs.js";
import { BIG_SIZE, CLIENT_REG as R } from "../fixtures/client-device-regs.js";
import { isCode } from "../helpers/errors.js";
import { type ServerProcess, startServer } from "./spawn.js";

const FIXTURE = new URL("../fixtures/client-device.js", import.meta.url);
const BIG = 2;
const CONFIG = VFIO_PCI_CONFIG_REGION_INDEX;

async function connect(server: ServerProcess) {
  const client = await VfioUserClient.connect(server.path);
  await client.device.config.updateCommand(0x6);
  return client;
}

describe("posted region writes", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(FIXTURE, ["--max-xfer", "4096"]);
  });
  after(async () => {
    await server.stop();
  });

  it("many posted writes, then one read sees the last value; no reply comes back", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      const conn = client.backend.connection;
      const calls0 = await d.read32(0, R.BIG_CALLS);
      for (let i = 1; i <= 2000; i++) await d.writePosted32(BIG, 0x40, i * 7);
      assert.equal(conn.pendingRequests, 0);
      assert.equal(await d.read32(BIG, 0x40), 2000 * 7);
      assert.equal((await d.read32(0, R.BIG_CALLS)) - calls0, 2000 + 1);
      // Typed variants, not awaited one by one: still in order with the read after them.
      void d.writePosted8(BIG, 0x50, 0x1ab);
      void d.writePosted16(BIG, 0x52, 0x1beef);
      void d.writePosted64(BIG, 0x58, -2n);
      assert.deepEqual(
        [...(await d.read(BIG, 0x50, 16))],
        [0xab, 0, 0xef, 0xbe, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      );
      assert.equal(conn.droppedReplies, 0);
    } finally {
      await client.close();
    }
  });

  it("splits a large posted write by max_data_xfer_size", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      const data = new Uint8Array(10000).map((_, i) => (i * 13 + 1) & 0xff);
      const calls0 = await d.read32(0, R.BIG_CALLS);
      await d.writePosted(BIG, 3000, data);
      assert.deepEqual(await d.read(BIG, 3000, 10000), data);
      assert.equal((await d.read32(0, R.BIG_CALLS)) - calls0, 3 + 3);
      assert.equal(await d.read32(0, R.BIG_MAX), 4096);
    } finally {
      await client.close();
    }
  });

  it("rejects out-of-bounds and blocked posted writes locally, before sending", async () => {
    const client = await connect(server);
    try {
      const d = client.device;
      const calls0 = await d.read32(0, R.BIG_CALLS);
      await assert.rejects(
        d.writePosted32(BIG, BIG_SIZE - 2, 1),
        (e) => isCode("EINVAL")(e) && /is outside BAR2/.test((e as Error).message),
      );
      await assert.rejects(d.writePosted(BIG, -1, new Uint8Array(1)), isCode("EINVAL"));
      await assert.rejects(d.writePosted(99, 0, new Uint8Array(1)), isCode("EINVAL"));
      // Memory decoding off: a posted BAR write would be dropped by the server unseen.
      await d.config.enableMemory(false);
      await assert.rejects(
        d.writePosted32(BIG, 0, 1),
        (e) => isCode("EIO")(e) && /PCI_COMMAND_MEMORY is clear/.test((e as Error).message),
      );
      // A posted config write that sets PCI_COMMAND is a normal write: it waits for the reply.
      const cmd = await d.config.read16(PCI_COMMAND);
      await d.writePosted16(CONFIG, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
      assert.equal(d.memoryEnabled, true);
      assert.equal((await d.config.read16(PCI_COMMAND)) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
      await d.writePosted32(BIG, 0x60, 0x5a5a);
      assert.equal(await d.read32(BIG, 0x60), 0x5a5a);
      // Only the last posted write reached the device handler (plus the read).
      assert.equal((await d.read32(0, R.BIG_CALLS)) - calls0, 2);
    } finally {
      await client.close();
    }
  });

  it("rejects posted writes on a closed device", async () => {
    const client = await connect(server);
    const d = client.device;
    await d.read32(BIG, 0);
    await client.close();
    await assert.rejects(d.writePosted32(BIG, 0, 1), isCode("EBADF"));
  });
});
