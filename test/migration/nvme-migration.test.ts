/**
 * The NVMe controller model migrated between two `vfio-ts serve nvme` processes under
 * our NVMe driver, with commands in flight at a queue depth above one: a namespace in
 * memory (its blocks move, by pre-copy rounds and the stop-copy), a namespace in a file
 * both servers open (shared storage), a destination whose storage differs (refused; the
 * source carries on), and an Asynchronous Event Request held across the move and
 * completed by the destination. Everything is checked against a plain array.
 */
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Container, MigrationState, VfioUserClient } from "../../src/client/index.js";
import { NvmeDriver } from "../../src/drivers/nvme/driver.js";
import { ServerProcess } from "../../src/harness/server-process.js";
import { pattern } from "../helpers/pattern.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const BLOCK = 512;
const SIZE = 4 << 20;
const BLOCKS = SIZE / BLOCK;

interface Endpoint {
  server: ServerProcess;
  client: VfioUserClient;
}

/**
 * Writes of `blocks` blocks at spread-out LBAs, all submitted at once (queue depth > 1).
 * They never overlap: commands in flight together may complete in any order, so the
 * model only holds if no two of them touch the same block.
 */
function writes(
  d: NvmeDriver,
  model: Uint8Array,
  seed: number,
  count: number,
  blocks: number,
): Promise<void>[] {
  const slots = Math.floor(BLOCKS / blocks);
  if (count > slots) throw new RangeError(`${count} writes of ${blocks} blocks do not fit`);
  const out: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    // An odd step over a power-of-two number of slots visits each slot once.
    const lba = ((seed * 37 + i * 11) % slots) * blocks;
    const data = pattern(blocks * BLOCK, seed * 1000 + i);
    model.set(data, lba * BLOCK);
    out.push(d.writeBlocks(1, lba, data));
  }
  return out;
}

/** Writes at distinct LBAs only, so their order does not matter to the model. */
function disjointWrites(d: NvmeDriver, model: Uint8Array, first: number, count: number) {
  const out: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const lba = (first + i) * 16;
    const data = pattern(16 * BLOCK, 5000 + first + i);
    model.set(data, lba * BLOCK);
    out.push(d.writeBlocks(1, lba, data));
  }
  return out;
}

async function readAll(d: NvmeDriver): Promise<Uint8Array> {
  return d.readBlocks(1, 0, BLOCKS);
}

describe("NVMe model migrated between two vfio-ts serve nvme processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-ts-nvmemig-"));
  const endpoints: Endpoint[] = [];
  const containers: Container[] = [];
  after(async () => {
    for (const e of endpoints) await e.client.close().catch(() => {});
    for (const c of containers) await c.close().catch(() => {});
    for (const e of endpoints) await e.server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(...args: string[]): Promise<Endpoint> {
    const { server, socket } = await ServerProcess.start({
      entry: MAIN,
      args: ["serve", "nvme", ...args],
    });
    const client = await VfioUserClient.fromSocket(socket, { name: "nvme" });
    const e = { server, client };
    endpoints.push(e);
    return e;
  }

  function container(): Container {
    const c = new Container();
    containers.push(c);
    return c;
  }

  it("moves a memory namespace with writes in flight; the driver reads it all back on the destination", async (t) => {
    const src = await serve("--size", String(SIZE));
    const dst = await serve("--size", String(SIZE));
    const d = await NvmeDriver.open(src.client.device, {
      container: container(),
      ioQueues: 2,
      queueEntries: 16,
    });
    const model = new Uint8Array(SIZE);
    await Promise.all(writes(d, model, 1, 24, 64));
    // Disjoint writes in flight while the migration starts; more land during pre-copy.
    const inflight = disjointWrites(d, model, 0, 12);
    let heldWrites = 0;
    let flush: Promise<unknown> | undefined;
    const report = await d.migrate(dst.client.device, {
      precopyRounds: 2,
      // The source is about to stop: these go into the rings with their doorbells
      // held, and run on the destination. After one turn every submitter has rung,
      // so the Flush's doorbell is held.
      beforeStop: async () => {
        inflight.push(...disjointWrites(d, model, 20, 6));
        flush = d.queues[0]!.submit({ opcode: 0x00, nsid: 1 }, "Flush");
        await new Promise((r) => setImmediate(r));
        heldWrites = d.controller.doorbells.heldCount;
      },
    });
    await flush;
    t.diagnostic(
      `moved ${report.bytes} bytes (${report.precopyBytes} in pre-copy), downtime ${report.downtimeMs.toFixed(1)} ms`,
    );
    await Promise.all(inflight);
    assert.equal(report.rounds, 2);
    assert.ok(heldWrites > 0, "doorbells were held while the source stopped");
    assert.ok(report.precopyBytes > 0, "the namespace's memory moved in pre-copy");
    assert.equal(d.device, dst.client.device);
    assert.equal(await src.client.device.migration.state(), MigrationState.STOP);
    assert.equal(await dst.client.device.migration.state(), MigrationState.RUNNING);

    await Promise.all(disjointWrites(d, model, 12, 8));
    assert.deepEqual(await readAll(d), model);
    await d.flush(1);
    await d.close();
  });

  it("moves a file namespace (shared storage) with writes in flight", async () => {
    const image = join(dir, "shared.img");
    closeSync(openSync(image, "w"));
    const src = await serve("--backing", image, "--size", String(SIZE));
    const dst = await serve("--backing", image, "--size", String(SIZE));
    const d = await NvmeDriver.open(src.client.device, {
      container: container(),
      ioQueues: 2,
      queueEntries: 16,
    });
    const model = new Uint8Array(SIZE);
    await Promise.all(writes(d, model, 2, 16, 32));
    const inflight = disjointWrites(d, model, 0, 10);
    const report = await d.migrate(dst.client.device);
    await Promise.all(inflight);
    assert.equal(report.precopyBytes, 0, "nothing of the file travels");
    await Promise.all(disjointWrites(d, model, 10, 6));
    assert.deepEqual(await readAll(d), model);
    await d.flush(1);
    assert.deepEqual(new Uint8Array(readFileSync(image)), model);
    await d.close();
  });

  it("refuses a destination whose namespace differs in size, and the source carries on", async () => {
    const a = join(dir, "a.img");
    const b = join(dir, "b.img");
    closeSync(openSync(a, "w"));
    closeSync(openSync(b, "w"));
    const src = await serve("--backing", a, "--size", String(SIZE));
    const dst = await serve("--backing", b, "--size", String(SIZE * 2));
    const d = await NvmeDriver.open(src.client.device, { container: container(), ioQueues: 2 });
    const model = new Uint8Array(SIZE);
    await Promise.all(writes(d, model, 3, 8, 16));
    const inflight = disjointWrites(d, model, 0, 6);
    await assert.rejects(d.migrate(dst.client.device), (err: Error & { code?: string }) => {
      assert.equal(err.code, "EINVAL");
      assert.match(err.message, /refused the device state/);
      return true;
    });
    await Promise.all(inflight);
    assert.match(dst.server.stderr, /not the same storage/);
    assert.match(dst.server.stderr, /4194304 bytes in 512-byte blocks, this one 8388608/);
    assert.equal(d.device, src.client.device);
    assert.equal(await src.client.device.migration.state(), MigrationState.RUNNING);
    await Promise.all(disjointWrites(d, model, 6, 4));
    assert.deepEqual(await readAll(d), model);
    await d.close();
  });

  it("refuses a memory namespace where the source's is a file", async () => {
    const image = join(dir, "kind.img");
    closeSync(openSync(image, "w"));
    const src = await serve("--backing", image, "--size", String(SIZE));
    const dst = await serve("--size", String(SIZE));
    const d = await NvmeDriver.open(src.client.device, { container: container() });
    await assert.rejects(d.migrate(dst.client.device), { code: "EINVAL" });
    assert.match(dst.server.stderr, /the source's namespace is a file \(shared storage\)/);
    await d.writeBlocks(1, 0, pattern(BLOCK, 9));
    assert.deepEqual(await d.readBlocks(1, 0, 1), pattern(BLOCK, 9));
    await d.close();
  });

  it("completes on the destination an Asynchronous Event Request the source held", async () => {
    const src = await serve("--size", String(SIZE));
    const dst = await serve("--size", String(SIZE));
    const d = await NvmeDriver.open(src.client.device, { container: container() });
    const aer = d.adminCommand({ opcode: 0x0c }, "Asynchronous Event Request");
    await d.migrate(dst.client.device);
    // SQ 9 does not exist: the destination raises Invalid Doorbell Register.
    await dst.client.device.write32(0, 0x1000 + 2 * 9 * 4, 1);
    const { completion } = await aer;
    // Error event (type 0), Invalid Doorbell Register (info 0), Error log (0x01).
    assert.equal(completion.result, 0x00_01_00_00);
    assert.equal(completion.sqid, 0);
    await d.writeBlocks(1, 3, pattern(BLOCK, 4));
    assert.deepEqual(await d.readBlocks(1, 3, 1), pattern(BLOCK, 4));
    await d.close();
  });
});
