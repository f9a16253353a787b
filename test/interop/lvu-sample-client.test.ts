/**
 * libvfio-user's samples/client, replayed message for message against our server
 * serving lvu-sample-device.ts (a device that behaves like libvfio-user's
 * samples/server), in two server processes over real sockets: the source, then the
 * destination its migration moves the device to. The assertions are what that client
 * checks (errno of a bogus region, 9 regions, the sparse areas and their fd, the ids,
 * replies of MIG_DEVICE_STATE echoing the request, 12 pre-copy and 13 stop-copy reads
 * of 1 KiB that all return data, BAR1 on the destination equal to what the guest
 * wrote last, an interrupt from each server, DMA by fd and by message into the first
 * two windows, and those two windows dirty), plus what it only prints.
 *
 * The client proposes max_data_xfer_size 1024, the VERSION reply states 1024 (it may
 * not offer more than proposed), and the client then reads and writes BAR1 12 KiB at
 * a time: we take requests up to our own limit, so those succeed as they do against
 * libvfio-user's server.
 *
 * Where the replay departs from the C client, on purpose (the README's
 * Interoperability section gives the same list):
 * - It sets PCI_COMMAND_MASTER after DEVICE_RESET. samples/client never does, and our
 *   framework refuses a device's DMA while bus mastering is off.
 * - The timer is set 4 s ahead before migrating, not 10 s (the interrupt is still
 *   due only after the device has moved), and the fake guest's BAR1 writes come
 *   between the pre-copy reads instead of from a second thread.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ServerProcess } from "../../src/harness/index.js";
import {
  Command,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_STATE_PRE_COPY,
  VFIO_DEVICE_STATE_RESUMING,
  VFIO_DEVICE_STATE_RUNNING,
  VFIO_DEVICE_STATE_STOP,
  VFIO_DEVICE_STATE_STOP_COPY,
  VFIO_DMA_UNMAP_FLAG_ALL,
} from "../../src/protocol/index.js";
import { closeFdQuietly, EventFd, MemFd, mmap, munmap } from "../../src/sys/index.js";
import { tempDir, waitFor } from "../cli/helpers.js";
import { RawClient } from "../server/raw-client.js";
import {
  DEVICE_ID,
  dmaPattern,
  RAM_SIZE,
  SUBSYSTEM_ID,
  SUBSYSTEM_VENDOR_ID,
  VENDOR_ID,
} from "./lvu-sample-device.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const DEVICE = fileURLToPath(new URL("./lvu-sample-device.js", import.meta.url));

/** What samples/client proposes in VERSION. */
const CLIENT_CAPS = { maxMsgFds: 32, maxDataXferSize: 1024 };
const PAGE = 4096;
const BAR0 = 0;
const BAR1 = 1;
const CONFIG = 7;
const NUM_IRQ_INDEXES = 5; // INTx, MSI, MSI-X, ERR, REQ
const VFIO_DMA_MAP_FLAG_READ_WRITE = 0x3;
/** The delay of the interrupt the source schedules before migrating (the C client: 10 s). */
const MIGRATION_TIMER_S = 4;

const stateReq = (deviceState: number) => ({
  argsz: 16,
  feature: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  ops: VFIO_DEVICE_FEATURE_SET,
  data: { kind: "mig-state" as const, deviceState, dataFd: 0xffffffff },
});

/** set_migration_state(): the reply must echo the request, header and payload. */
async function setMigrationState(c: RawClient, state: number): Promise<void> {
  const req = stateReq(state);
  const { reply } = await c.call(Command.VFIO_USER_DEVICE_FEATURE, req);
  assert.deepEqual(reply, req);
}

async function rejectsErrno(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, err.message);
    return true;
  });
}

function timeBytes(t: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, t, true);
  return b;
}

function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

/** configure_irqs(): GET_IRQ_INFO for every index (each must succeed), then INTx's eventfd. */
async function configureIrqs(c: RawClient): Promise<EventFd> {
  const counts: number[] = [];
  for (let index = 0; index < NUM_IRQ_INDEXES; index++) {
    const { reply } = await c.call(Command.VFIO_USER_DEVICE_GET_IRQ_INFO, { argsz: 16, index });
    counts.push(reply.count);
  }
  assert.equal(counts[0], 1, "one INTx");
  const efd = EventFd.create();
  await c.call(
    Command.VFIO_USER_DEVICE_SET_IRQS,
    { argsz: 20, action: "trigger", data: "eventfd", index: 0, start: 0, count: 1 },
    { fds: [efd.fd] },
  );
  return efd;
}

function waitForIrq(efd: EventFd, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      efd.onReadable(null);
      reject(new Error("no INTx"));
    }, timeoutMs);
    efd.onReadable(() => {
      if (efd.read() === null) return;
      clearTimeout(timer);
      efd.onReadable(null);
      resolve();
    });
  });
}

async function mapWindows(c: RawClient, ram: MemFd, first: number, count: number): Promise<void> {
  for (let i = first; i < first + count; i++) {
    await c.call(
      Command.VFIO_USER_DMA_MAP,
      {
        argsz: 32,
        flags: VFIO_DMA_MAP_FLAG_READ_WRITE,
        offset: BigInt(i * PAGE),
        address: BigInt(i * PAGE),
        size: BigInt(PAGE),
      },
      { fds: [ram.fd] },
    );
  }
}

/**
 * handle_dma_io(): the four 1 KiB DMA_WRITEs and four 1 KiB DMA_READs the device sends
 * for the window in its slot 0 (our RawClient answers them from `ram`).
 */
async function handleDmaIo(c: RawClient, iova: number): Promise<void> {
  await waitFor(() => c.serverRequests.length >= 8, "the device's 8 DMA messages", 10_000);
  const expected: { command: number; address: bigint; count: number }[] = [];
  for (const command of [Command.VFIO_USER_DMA_WRITE, Command.VFIO_USER_DMA_READ]) {
    for (let i = 0; i < 4; i++) {
      expected.push({ command, address: BigInt(iova + i * 1024), count: 1024 });
    }
  }
  assert.deepEqual(c.serverRequests.splice(0), expected);
}

/** do_migrate(): `n` reads of 1 KiB, each of which must return data. */
async function readMigrationData(c: RawClient, n: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const { reply } = await c.call(Command.VFIO_USER_MIG_DATA_READ, {
      argsz: 8 + 1024,
      size: 1024,
    });
    assert.ok(reply.data.byteLength > 0, `migration read ${i + 1} of ${n} returned data`);
    out.push(reply.data.slice());
  }
  return out;
}

describe("libvfio-user's samples/client sequence against an lvu-sample device in two server processes", () => {
  const tmp = tempDir();
  const servers: ServerProcess[] = [];
  const clients: RawClient[] = [];
  const fds: { close(): void }[] = [];
  let ram: MemFd;
  let ramView: ArrayBuffer;

  before(() => {
    // The guest RAM behind the DMA windows: 64 pages of one file, window i at page i.
    ram = MemFd.create("lvu-client-ram", 64 * PAGE);
    ramView = mmap(ram.fd, 0, 64 * PAGE);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.stop();
    for (const f of fds) f.close();
    munmap(ramView);
    ram.close();
    tmp.cleanup();
  });

  async function start(name: string): Promise<RawClient> {
    const { server, socket } = await ServerProcess.start({
      entry: CLI,
      args: ["serve", DEVICE],
      socketPath: tmp.path(name),
    });
    servers.push(server);
    const c = await RawClient.over(socket, { capabilities: CLIENT_CAPS });
    clients.push(c);
    c.windows.push({ iova: 0n, bytes: new Uint8Array(ramView) });
    return c;
  }

  it("runs every step, the migration to a second server included", {
    timeout: 60_000,
  }, async () => {
    const memory = new Uint8Array(ramView);
    // negotiate()
    const src = await start("lvu.sock");
    const caps = src.negotiated?.capabilities ?? {};
    assert.equal(src.negotiated?.major, 0);
    const serverMaxFds = caps.maxMsgFds ?? 1;
    assert.equal(serverMaxFds, 32);
    assert.equal(caps.maxDataXferSize, 1024, "we answer with the smaller limit");

    // A bogus region: EINVAL.
    await rejectsErrno(src.regionRead(0xdeadbeef, 0, 4), "EINVAL");

    // get_device_info(): 9 regions.
    const info = await src.call(Command.VFIO_USER_DEVICE_GET_INFO, { argsz: 16 });
    assert.equal(info.reply.numRegions, 9);
    assert.equal(info.reply.numIrqs, NUM_IRQ_INDEXES);

    // get_device_regions_info(): ask with 32 bytes, again with the argsz the reply wants.
    for (let index = 0; index < 9; index++) {
      const first = await src.call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, {
        argsz: 32,
        index,
      });
      for (const fd of first.fds) fds.push({ close: () => closeFdQuietly(fd) });
      if (first.reply.argsz <= 32) {
        assert.notEqual(index, BAR1, "BAR1 has the sparse mmap capability");
        continue;
      }
      const full = await src.call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, {
        argsz: first.reply.argsz,
        index,
      });
      assert.equal(full.reply.argsz, first.reply.argsz);
      assert.equal(index, BAR1);
      assert.equal(full.fds.length, 1);
      const [sparse] = full.reply.caps;
      assert.equal(sparse?.kind, "sparse-mmap");
      assert.deepEqual(sparse.kind === "sparse-mmap" ? sparse.areas : [], [
        { offset: 0n, size: 4096n },
        { offset: 0x2000n, size: 4096n },
      ]);
      // mmap_sparse_areas(): each area maps.
      if (sparse.kind === "sparse-mmap") {
        for (const a of sparse.areas) {
          munmap(mmap(full.fds[0]!, full.reply.offset + a.offset, Number(a.size)));
        }
      }
      const fd = full.fds[0]!;
      fds.push({ close: () => closeFdQuietly(fd) });
    }

    // The standard header: ids.
    const hdr = await src.regionRead(CONFIG, 0, 64);
    const u16 = (at: number) => hdr[at]! | (hdr[at + 1]! << 8);
    assert.deepEqual(
      [u16(0), u16(2), u16(0x2c), u16(0x2e)],
      [VENDOR_ID, DEVICE_ID, SUBSYSTEM_VENDOR_ID, SUBSYSTEM_ID],
    );

    await src.call(Command.VFIO_USER_DEVICE_RESET, {});
    // Not in samples/client: without bus mastering our device may not DMA.
    await src.enableBusMaster();

    // 2 * max_msg_fds windows of one page, each with the fd.
    const nrWindows = serverMaxFds * 2;
    await mapWindows(src, ram, 0, nrWindows);

    const irq = await configureIrqs(src);
    fds.push(irq);

    // Dirty logging on, for all of memory (0 ranges).
    const control = {
      argsz: 24,
      ops: VFIO_DEVICE_FEATURE_SET,
      data: { kind: "dma-logging-control" as const, pageSize: BigInt(PAGE), ranges: [] },
    };
    await src.call(Command.VFIO_USER_DEVICE_FEATURE, {
      ...control,
      feature: VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
    });

    // access_bar0(): the timer fires in a second; reading gives now - t.
    const t = nowSeconds() + 1n;
    await src.regionWrite(BAR0, 0, timeBytes(t));
    const delta = new DataView((await src.regionRead(BAR0, 0, 8)).buffer).getBigInt64(0, true);
    assert.ok(delta === -1n || delta === 0n, `BAR0 reads now - t (${delta})`);
    await waitForIrq(irq, 5000);

    // handle_dma_io(): slot 0 (window 0) by messages; slot 1 (window 1) went by fd.
    await handleDmaIo(src, 0);
    const pattern = dmaPattern();
    assert.deepEqual(memory.subarray(0, PAGE), pattern, "window 0 (messages)");
    assert.deepEqual(memory.subarray(PAGE, 2 * PAGE), pattern, "window 1 (fd)");

    // get_dirty_bitmap() of every window: the first two are dirty.
    const dirty: number[] = [];
    for (let i = 0; i < nrWindows; i++) {
      const { reply } = await src.call(Command.VFIO_USER_DEVICE_FEATURE, {
        argsz: 8 + 24 + 8,
        feature: VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
        ops: VFIO_DEVICE_FEATURE_GET,
        data: {
          kind: "dma-logging-report",
          iova: BigInt(i * PAGE),
          length: BigInt(PAGE),
          pageSize: BigInt(PAGE),
        },
      });
      assert.equal(reply.data.kind, "dma-logging-report");
      if (reply.data.kind === "dma-logging-report" && reply.data.bitmap?.[0]) dirty.push(i);
    }
    assert.deepEqual(dirty, [0, 1]);

    // The same control payload again (STOP's data is not interpreted).
    const stopData = new Uint8Array(16);
    new DataView(stopData.buffer).setBigUint64(0, BigInt(PAGE), true);
    await src.call(Command.VFIO_USER_DEVICE_FEATURE, {
      argsz: 24,
      ops: VFIO_DEVICE_FEATURE_SET,
      feature: VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
      data: { kind: "raw", bytes: stopData },
    });

    // Unmap the first max_msg_fds windows.
    for (let i = 0; i < serverMaxFds; i++) {
      await src.call(Command.VFIO_USER_DMA_UNMAP, {
        argsz: 24,
        flags: 0,
        address: BigInt(i * PAGE),
        size: BigInt(PAGE),
      });
    }

    // An interrupt due after the migration: the destination must deliver it.
    await src.regionWrite(BAR0, 0, timeBytes(nowSeconds() + BigInt(MIGRATION_TIMER_S)));

    // migrate_from(): PRE_COPY, 12 reads while the guest keeps writing BAR1.
    await setMigrationState(src, VFIO_DEVICE_STATE_PRE_COPY);
    let guest = new Uint8Array(randomBytes(RAM_SIZE));
    for (let i = 0; i < 12; i++) {
      guest = new Uint8Array(randomBytes(RAM_SIZE));
      await src.regionWrite(BAR1, 0, guest); // 12 KiB in one access, over the stated 1 KiB
      await readMigrationData(src, 1);
    }
    await setMigrationState(src, VFIO_DEVICE_STATE_STOP_COPY);
    // The pre-copy data is dropped, as the C client does: only these 13 reads travel.
    const stopCopy = await readMigrationData(src, 13);
    assert.ok(stopCopy[12]!.byteLength < 1024, "the stop-copy data ends within 13 reads");
    await setMigrationState(src, VFIO_DEVICE_STATE_STOP);

    // migrate_to(): a second server process.
    const dst = await start("lvu.sock_migrated");
    await setMigrationState(dst, VFIO_DEVICE_STATE_RESUMING);
    for (const chunk of stopCopy) {
      await dst.call(Command.VFIO_USER_MIG_DATA_WRITE, {
        argsz: 8 + chunk.byteLength,
        data: chunk,
      });
    }
    await setMigrationState(dst, VFIO_DEVICE_STATE_STOP);
    assert.deepEqual(await dst.regionRead(BAR1, 0, RAM_SIZE), guest, "BAR1 as the guest left it");
    await setMigrationState(dst, VFIO_DEVICE_STATE_RUNNING);

    // The rest of the windows, the interrupt again, and the device's DMA from the
    // destination: its slot 0 is now window 32 (messages), slot 1 window 33 (fd).
    await mapWindows(dst, ram, serverMaxFds, nrWindows - serverMaxFds);
    const irq2 = await configureIrqs(dst);
    fds.push(irq2);
    memory.fill(0, serverMaxFds * PAGE, (serverMaxFds + 2) * PAGE);
    await waitForIrq(irq2, (MIGRATION_TIMER_S + 5) * 1000);
    await handleDmaIo(dst, serverMaxFds * PAGE);
    const w = serverMaxFds * PAGE;
    assert.deepEqual(memory.subarray(w, w + PAGE), pattern, "window 32 (messages)");
    assert.deepEqual(memory.subarray(w + PAGE, w + 2 * PAGE), pattern, "window 33 (fd)");

    await dst.call(Command.VFIO_USER_DMA_UNMAP, {
      argsz: 24,
      flags: VFIO_DMA_UNMAP_FLAG_ALL,
      address: 0n,
      size: 0n,
    });
    assert.equal(servers[0]!.exited || servers[1]!.exited, false, "both servers still run");
  });
});
