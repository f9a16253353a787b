/**
 * Busy polling end to end: `vfio-ts serve edu --poll-us N` in its own process and a
 * VfioUserClient with pollUs, over a real socket. Correctness only (order, values,
 * liveness); what polling buys in latency is measured by `npm run bench`, not here.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Container, IommuOwner, VfioUserClient } from "../../src/client/index.js";
import { eduRegs, freeIova } from "../../src/drivers/index.js";
import { ServerProcess } from "../../src/harness/server-process.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const BAR = eduRegs.EDU_BAR;

describe("busy polling: vfio-ts serve --poll-us and a polling client", () => {
  let server: ServerProcess;
  let client: VfioUserClient;
  before(async () => {
    const started = await ServerProcess.start({
      entry: CLI,
      args: ["serve", "edu", "--poll-us", "300"],
    });
    server = started.server;
    client = await VfioUserClient.fromSocket(started.socket, { name: "polled", pollUs: 300 });
  });
  after(async () => {
    await client?.close();
    await server?.stop();
  });

  it("answers pipelined posted writes and reads in order", async () => {
    const h = client.device;
    const ops: Promise<unknown>[] = [];
    const n = 400;
    for (let i = 0; i < n; i++) {
      ops.push(h.writePosted32(BAR, eduRegs.REG_LIVENESS, i * 7919));
      ops.push(h.read32(BAR, eduRegs.REG_LIVENESS));
      ops.push(h.config.read16(0));
    }
    const got = await Promise.all(ops);
    for (let i = 0; i < n; i++) {
      assert.equal(got[3 * i + 1], ~(i * 7919) >>> 0, `read ${i} sees write ${i}`);
      assert.equal(got[3 * i + 2], 0x1234, "edu vendor id");
    }
  });

  it("maps and unmaps DMA one pair at a time, as a driver does", async () => {
    const container = new Container({ owner: new IommuOwner({ memlockLimit: "infinity" }) });
    try {
      await container.attach(client.device);
      const mem = new Uint8Array(4096);
      const iova = freeIova(container, 4096n);
      for (let i = 0; i < 50; i++) {
        const m = await container.mapMemory(iova, mem, "rw");
        await m.unmap();
      }
    } finally {
      await container.close();
    }
  });

  it("lets this process's event loop run between round trips", async () => {
    // A spinning client must still return to the loop: immediates and timers run.
    let immediates = 0;
    let timerRan = false;
    const timer = setTimeout(() => (timerRan = true), 1);
    const count = () => {
      immediates++;
      if (immediates < 1000) setImmediate(count);
    };
    setImmediate(count);
    for (let i = 0; i < 300 && !(timerRan && immediates > 10); i++) {
      await client.device.read32(BAR, eduRegs.REG_ID);
    }
    clearTimeout(timer);
    assert.ok(immediates > 10, `setImmediate ran ${immediates} times`);
    assert.ok(timerRan, "a 1 ms timer fired");
  });
});
