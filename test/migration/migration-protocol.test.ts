/**
 * Migration v2 and DMA dirty logging over the wire: in-process servers on real
 * socketpairs, driven by our client's DeviceMigration API (and raw messages where the
 * API would not send what a hostile or careless client might).
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { concatBytes } from "../../src/bytes.js";
import {
  type DeviceHandle,
  MigrationState,
  migrateDevice,
  VfioUserClient,
} from "../../src/client/index.js";
import {
  Command,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_SET,
} from "../../src/protocol/index.js";
import { createDevice, silentLogger, VfioUserServer } from "../../src/server/index.js";
import { MemFd, socketPair } from "../../src/sys/index.js";
import { RawClient } from "../server/raw-client.js";
import { MigratableDevice, type MigratableDeviceOptions } from "./migratable-device.js";

const { STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY, ERROR } = MigrationState;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;
const PCI_COMMAND_INTX_DISABLE = 0x400;

interface Served {
  model: MigratableDevice;
  server: VfioUserServer;
  client: VfioUserClient;
  device: DeviceHandle;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function serve(options: MigratableDeviceOptions = {}): Promise<Served> {
  const model = new MigratableDevice(options);
  const server = new VfioUserServer(createDevice(model.definition), { logger: silentLogger });
  const [a, b] = socketPair();
  server.serve(a);
  const client = await VfioUserClient.fromSocket(b, { name: "migratable" });
  cleanups.push(async () => {
    await client.close();
    await server.close();
  });
  await client.device.config.updateCommand(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
  return { model, server, client, device: client.device };
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe("migration over vfio-user", () => {
  it("advertises STOP_COPY, and PRE_COPY only when the device has it; no migration: ENOTTY", async () => {
    const plain = await serve();
    assert.deepEqual(await plain.device.migration.features(), {
      stopCopy: true,
      preCopy: false,
      p2p: false,
    });
    const pre = await serve({ precopy: [] });
    assert.equal((await pre.device.migration.features())?.preCopy, true);
    const none = await serve({ migrates: false });
    assert.equal(await none.device.migration.features(), undefined);
    await rejectsCode(none.device.migration.state(), "ENOTTY");
    await rejectsCode(none.device.migration.setState(STOP), "ENOTTY");
    const m = plain.device.migration;
    assert.equal(
      await m.probe(
        VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
        VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
      ),
      true,
    );
    assert.equal(await m.probe(VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_SET), false);
    assert.equal(
      await none.device.migration.probe(VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_GET),
      false,
    );
    // DMA logging is the framework's, so a device that does not migrate still has it.
    assert.equal(
      await none.device.migration.probe(
        VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
        VFIO_DEVICE_FEATURE_SET,
      ),
      true,
    );
  });

  it("reaches every state from every state the spec allows, and refuses the rest unchanged", async () => {
    const { device } = await serve({ precopy: [] });
    const m = device.migration;
    const states = [STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY];
    const toRunning = async () => {
      // Out of RESUMING without data, only a reset leads.
      if ((await m.state()) === RESUMING) await device.reset();
      else await m.setState(RUNNING);
    };
    for (const from of states) {
      for (const to of states) {
        await toRunning();
        await m.setState(from);
        assert.equal(await m.state(), from);
        if (from === STOP_COPY && to === PRE_COPY) {
          await rejectsCode(m.setState(to), "EINVAL");
          assert.equal(await m.state(), STOP_COPY);
          continue;
        }
        if (from === RESUMING && to !== RESUMING) {
          // Leaving RESUMING needs a whole stream first: refused, still RESUMING.
          await rejectsCode(m.setState(to), "EINVAL");
          assert.equal(await m.state(), RESUMING);
          continue;
        }
        await m.setState(to);
        assert.equal(await m.state(), to);
      }
    }
    await toRunning();
    for (const bad of [ERROR, 5, 7, 8, 0x7fffffff]) {
      await rejectsCode(m.setState(bad as MigrationState), "EINVAL");
      assert.equal(await m.state(), RUNNING);
    }
  });

  it("quiesces a stopped device: no handlers, no DMA, interrupts and callbacks held until it runs", async () => {
    const { model, device, client } = await serve();
    assert.equal(await device.read32(0, 0), 0); // the model now has its context
    const [vector] = await device.irqs.enable(2 /* MSI-X */, { count: 1 });
    assert.ok(vector);
    const ram = MemFd.create("ram", 4096);
    cleanups.push(async () => ram.close());
    await client.backend.dmaMap({
      iova: 0x100000n,
      size: 4096n,
      read: true,
      write: true,
      fd: ram.fd,
      fdOffset: 0n,
    });
    const dev = model.dev!;
    model.events.length = 0;
    await device.migration.setState(STOP);
    assert.deepEqual(model.events, ["stop"]);
    await rejectsCode(device.read32(0, 0), "EBUSY");
    assert.equal(await device.config.read16(0), 0x1b36); // config space stays readable
    await rejectsCode(dev.dma.write(0x100000n, Uint8Array.of(1)), "EBUSY");
    assert.equal(dev.irq.trigger(0), "pending");
    // A config change is made, but the device hears of it only when it runs again.
    await device.config.updateCommand(PCI_COMMAND_INTX_DISABLE, 0);
    const before = vector.total;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(vector.total, before, "no interrupt while stopped");
    await device.migration.setState(RUNNING);
    await vector.wait({ timeoutMs: 2000 });
    assert.equal(vector.total, before + 1);
    assert.deepEqual(model.events, ["stop", "command 0x406", "start"]);
    await dev.dma.write(0x100000n, Uint8Array.of(7));
  });

  it("a stopped device is owed the net of what happened, however long a client goes on", async () => {
    const { model, device, client } = await serve();
    assert.equal(await device.read32(0, 0), 0);
    const window = (iova: bigint) => ({
      iova,
      size: 4096n,
      read: true,
      write: true,
      fd: -1,
      fdOffset: 0n,
    });
    await client.backend.dmaMap(window(0x100000n));
    model.events.length = 0;
    await device.migration.setState(STOP);
    // Windows mapped and unmapped while stopped, and command writes that end where they
    // began: nothing is owed for them, so nothing accumulates (HeldDmaEvents).
    for (let i = 0; i < 500; i++) {
      await client.backend.dmaMap(window(0x200000n));
      await client.backend.dmaUnmap(0x200000n, 4096n);
      await device.config.updateCommand(0, PCI_COMMAND_MASTER);
      await device.config.updateCommand(PCI_COMMAND_MASTER, 0);
    }
    await client.backend.dmaUnmap(0x100000n, 4096n);
    await client.backend.dmaMap(window(0x300000n));
    await device.config.updateCommand(0, PCI_COMMAND_MEMORY);
    assert.deepEqual(model.events, ["stop"]);
    await device.migration.setState(RUNNING);
    assert.deepEqual(model.events, [
      "stop",
      "command 0x4",
      "unmap 0x100000",
      "map 0x300000",
      "start",
    ]);

    // A reset of a stopped device drops its migration state but not the windows: it
    // is told of them after its reset.
    model.events.length = 0;
    model.commandFrom.length = 0;
    await device.migration.setState(STOP);
    await client.backend.dmaMap(window(0x400000n));
    await device.config.updateCommand(PCI_COMMAND_MEMORY, 0); // 0x4 -> 0x6, unheard
    await device.reset();
    assert.deepEqual(model.events, ["stop", "start", "map 0x400000", "command 0x2"]);
    assert.deepEqual(model.commandFrom, [0x4], "from the command the device last heard of");
  });

  it("moves a device between two servers: the device's state and the framework's", async () => {
    const src = await serve();
    const dst = await serve();
    await src.device.write32(0, 0, 0x1234);
    // MSI-X table entry 1 programmed by the driver on the source (framework state).
    await src.device.write32(0, 0x810, 0xfee00000);
    await src.device.write32(0, 0x818, 0x4321);
    const report = await migrateDevice(src.device, dst.device);
    assert.equal(await dst.device.read32(0, 0), 0x1234);
    assert.equal(await dst.device.read32(0, 0x810), 0xfee00000);
    assert.equal(await dst.device.read32(0, 0x818), 0x4321);
    assert.equal(await src.device.migration.state(), STOP);
    assert.equal(await dst.device.migration.state(), RUNNING);
    assert.ok(report.bytes > 0 && report.downtimeMs >= 0);
    assert.deepEqual(
      dst.model.events.filter((e) => e === "load" || e === "start"),
      ["load", "start"],
    );
  });

  it("calls precopy.begin per session and sends the remainder before the device state", async () => {
    const pre = [Uint8Array.of(1, 2)];
    const rest = [Uint8Array.of(7), Uint8Array.of(8, 9)];
    // No pre-copy round: begin runs on STOP -> STOP_COPY, the remainder still travels.
    const src = await serve({ precopy: pre, remainder: rest });
    const dst = await serve({ precopy: [] });
    await migrateDevice(src.device, dst.device);
    assert.deepEqual(dst.model.precopyLoaded, rest);
    const hooks = (events: string[]) =>
      events.filter((e) => ["stop", "begin", "save", "start"].includes(e));
    const order = hooks(src.model.events);
    assert.deepEqual(order, ["stop", "begin", "save"]);
    assert.equal(src.model.events.filter((e) => e === "remainder").length, 3);
    // With pre-copy rounds: begin on entering PRE_COPY, then the rounds, then the rest.
    const src2 = await serve({ precopy: pre, remainder: rest });
    const dst2 = await serve({ precopy: [] });
    await migrateDevice(src2.device, dst2.device, { precopyRounds: 1 });
    assert.deepEqual(dst2.model.precopyLoaded, [...pre, ...rest]);
    assert.deepEqual(hooks(src2.model.events), ["begin", "stop", "save"]);
  });

  it("pre-copy chunks travel first, in order, and reads come back short when dry", async () => {
    const chunks = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5)];
    const src = await serve({ precopy: chunks });
    const dst = await serve({ precopy: [] });
    const report = await migrateDevice(src.device, dst.device, { precopyRounds: 2 });
    assert.equal(report.rounds, 2);
    assert.ok(report.precopyBytes >= 5);
    assert.deepEqual(dst.model.precopyLoaded, chunks);
    const m = src.device.migration;
    await m.setState(RUNNING);
    await m.setState(PRE_COPY);
    const first = await m.read(4096);
    assert.ok(first.byteLength < 4096, "nothing left to pre-copy: a short read");
    assert.equal((await m.read(4096)).byteLength, 0);
  });

  it("a client that reads only part of the pre-copy data: the stop-copy data resumes with or without it", async () => {
    const chunk = (v: number) => new Uint8Array(600).fill(v);
    const src = await serve({ precopy: [chunk(1), chunk(2), chunk(3)] });
    const m = src.device.migration;
    await src.device.write32(0, 0, 0x55);
    await m.setState(PRE_COPY);
    // Reads of 1000 bytes end at a record boundary: the header and the first chunk's
    // record fit (8 + 608), the second's would not.
    const precopy = await m.read(1000);
    assert.equal(precopy.byteLength, 8 + 8 + 600);
    await m.setState(STOP_COPY);
    const stopCopy: Uint8Array[] = [];
    for (;;) {
      const b = await m.read(1024); // libvfio-user's sample reads 1 KiB at a time
      if (b.byteLength === 0) break;
      stopCopy.push(b);
    }
    // Only the stop-copy data (what libvfio-user's sample client delivers): the chunk
    // the device had produced and the client had not read comes with it.
    const onlyStop = await serve({ precopy: [] });
    const d1 = onlyStop.device.migration;
    await d1.setState(RESUMING);
    for (const b of stopCopy) await d1.write(b);
    await d1.setState(RUNNING);
    assert.equal(await onlyStop.device.read32(0, 0), 0x55);
    assert.deepEqual(onlyStop.model.precopyLoaded, [chunk(2)]);
    // Everything, in order (what a VMM delivers): every chunk read, once.
    const all = await serve({ precopy: [] });
    const d2 = all.device.migration;
    await d2.setState(RESUMING);
    await d2.write(precopy);
    for (const b of stopCopy) await d2.write(b);
    await d2.setState(RUNNING);
    assert.equal(await all.device.read32(0, 0), 0x55);
    assert.deepEqual(all.model.precopyLoaded, [chunk(1), chunk(2)]);
  });

  it("a pre-copy chunk larger than the read is split, and its rest opens the stop-copy data", async () => {
    const big = new Uint8Array(3000).fill(7);
    const src = await serve({ precopy: [big] });
    const m = src.device.migration;
    await m.setState(PRE_COPY);
    const precopy = await m.read(1000); // the device returned more than it was asked for
    assert.equal(precopy.byteLength, 1000);
    await m.setState(STOP_COPY);
    const stopCopy = await m.read(1 << 16);
    const dst = await serve({ precopy: [] });
    const d = dst.device.migration;
    await d.setState(RESUMING);
    await d.write(precopy);
    await d.write(stopCopy);
    await d.setState(RUNNING);
    assert.deepEqual(dst.model.precopyLoaded, [big]);
  });

  it("MIG_DATA: only in the saving states (read) and RESUMING (write), any read size, whole streams only", async () => {
    const src = await serve();
    const dst = await serve();
    const m = src.device.migration;
    await rejectsCode(m.read(16), "EINVAL");
    await m.setState(STOP_COPY);
    await rejectsCode(m.write(Uint8Array.of(1)), "EINVAL");
    // Byte by byte is the same stream as in one piece.
    const bytes: number[] = [];
    for (;;) {
      const b = await m.read(1);
      if (b.byteLength === 0) break;
      bytes.push(b[0]!);
    }
    assert.equal((await m.read(4096)).byteLength, 0);
    await m.setState(STOP);
    await m.setState(STOP_COPY);
    assert.deepEqual([...(await m.read(1 << 16))], bytes);

    const d = dst.device.migration;
    await d.setState(RESUMING);
    await d.write(Uint8Array.from(bytes.slice(0, 20)));
    await rejectsCode(d.setState(STOP), "EINVAL"); // incomplete
    assert.equal(await d.state(), RESUMING);
    await d.write(Uint8Array.from(bytes.slice(20)));
    await d.setState(RUNNING);
    assert.equal(await dst.device.read32(0, 0), 0);

    // A request larger than the transfer limit, or whose argsz cannot hold it: EINVAL.
    await m.setState(STOP);
    await m.setState(STOP_COPY);
    await rejectsCode(m.read((1 << 20) + 1), "E2BIG");
  });

  it("clients that come and go while the device is stopped: it hears of the net when it runs", async () => {
    const model = new MigratableDevice();
    const server = new VfioUserServer(createDevice(model.definition), { logger: silentLogger });
    const connect = () => {
      const [a, b] = socketPair();
      server.serve(a);
      return VfioUserClient.fromSocket(b, { name: "migratable" });
    };
    let client = await connect();
    cleanups.push(async () => {
      await client.close();
      await server.close();
    });
    assert.deepEqual(model.events, ["attach"]);
    await client.device.migration.setState(STOP);
    for (let i = 0; i < 20; i++) {
      await client.close();
      await server.idle();
      client = await connect();
      await client.backend.dmaMap({
        iova: 0x100000n,
        size: 4096n,
        read: true,
        write: true,
        fd: -1,
        fdOffset: 0n,
      });
    }
    assert.deepEqual(model.events, ["attach", "stop"], "nothing while stopped");
    await client.device.migration.setState(RUNNING);
    assert.deepEqual(model.events, ["attach", "stop", "detach", "attach", "map 0x100000", "start"]);
  });

  it("a destination buffers at most maxDataBytes: beyond it EFBIG, the stream fails, reset recovers", async () => {
    const src = await serve({ precopy: [new Uint8Array(3000)] });
    const m = src.device.migration;
    await m.setState(PRE_COPY);
    const stream = concatBytes([await m.read(1 << 16)]);
    await m.setState(STOP_COPY);
    const whole = concatBytes([stream, await m.read(1 << 16)]);
    assert.ok(whole.byteLength > 3000);

    const dst = await serve({ precopy: [], maxDataBytes: 2048 });
    const d = dst.device.migration;
    await d.setState(RESUMING);
    await d.write(whole.subarray(0, 2048)); // exactly the limit is taken
    await rejectsCode(d.write(whole.subarray(2048, 2049)), "EFBIG");
    await rejectsCode(d.write(Uint8Array.of(0)), "EFBIG"); // failed for good
    await rejectsCode(d.setState(STOP), "EFBIG");
    assert.equal(await d.state(), RESUMING, "nothing applied");
    assert.equal(dst.model.precopyLoaded.length, 0);
    await dst.device.reset();
    assert.equal(await d.state(), RUNNING);

    // migrateDevice says why, and puts the source back in service.
    const again = await serve({ precopy: [new Uint8Array(3000)] });
    const small = await serve({ precopy: [], maxDataBytes: 2048 });
    await assert.rejects(migrateDevice(again.device, small.device, { precopyRounds: 1 }), {
      code: "EFBIG",
      message: /took no more migration data after \d+ bytes .*maxDataBytes/,
    });
    assert.equal(await again.device.migration.state(), RUNNING);

    const roomy = await serve({ precopy: [], maxDataBytes: whole.byteLength });
    const r = roomy.device.migration;
    await r.setState(RESUMING);
    await r.write(whole);
    await r.setState(RUNNING);
    assert.equal(roomy.model.precopyLoaded[0]?.byteLength, 3000);

    for (const bad of [0, -1, 1.5, Number.MAX_VALUE]) {
      assert.throws(
        () => createDevice(new MigratableDevice({ maxDataBytes: bad }).definition),
        (err: Error & { code?: string }) =>
          err.code === "EINVAL" && /maxDataBytes must be a positive integer/.test(err.message),
      );
    }
  });

  it("MIG_DATA_READ whose argsz cannot hold the size asked is refused, not truncated", async () => {
    const model = new MigratableDevice();
    const server = new VfioUserServer(createDevice(model.definition), { logger: silentLogger });
    const [a, b] = socketPair();
    server.serve(a);
    const raw = await RawClient.over(b);
    cleanups.push(async () => {
      raw.close();
      await server.close();
    });
    await raw.call(Command.VFIO_USER_DEVICE_FEATURE, {
      argsz: 16,
      feature: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
      ops: VFIO_DEVICE_FEATURE_SET,
      data: { kind: "mig-state", deviceState: STOP_COPY, dataFd: 0xffffffff },
    });
    await rejectsCode(raw.call(Command.VFIO_USER_MIG_DATA_READ, { argsz: 16, size: 64 }), "EINVAL");
    const r = await raw.call(Command.VFIO_USER_MIG_DATA_READ, { argsz: 72, size: 64 });
    assert.equal(r.reply.data.byteLength, 64);
  });

  it("refuses garbage and another device's state; a refused load leaves ERROR until reset", async () => {
    const src = await serve();
    const other = await serve({ deviceId: 0x7002 });
    const refusing = await serve({ refuseLoad: true });
    const m = src.device.migration;
    await m.setState(STOP_COPY);
    const stream = await m.read(1 << 16);

    await other.device.migration.setState(RESUMING);
    await other.device.migration.write(stream);
    await rejectsCode(other.device.migration.setState(STOP), "EINVAL");
    assert.equal(await other.device.migration.state(), RESUMING, "nothing applied");

    const g = refusing.device.migration;
    await g.setState(RESUMING);
    await rejectsCode(g.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9)), "EINVAL");
    await rejectsCode(g.setState(STOP), "EINVAL");
    await refusing.device.reset();
    await g.setState(RESUMING);
    await g.write(stream);
    await rejectsCode(g.setState(STOP), "EINVAL");
    assert.equal(await g.state(), ERROR);
    await rejectsCode(g.setState(RUNNING), "EINVAL");
    await refusing.device.reset();
    assert.equal(await g.state(), RUNNING);
    assert.equal(await refusing.device.read32(0, 0), 0);
  });
});
