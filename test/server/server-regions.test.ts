import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  Command,
  decodeReply,
  encodeRequest,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from "../../src/protocol/index.js";
import { closeFd, mmap, munmap } from "../../src/sys/index.js";
import { DEVICE_ID_VALUE, REG, ROM_BYTES } from "../fixtures/test-device-regs.js";
import { type DeviceProcess, startDevice } from "./harness.js";
import { CMD_IO, CMD_MEMORY, E, findCap, PCI_COMMAND, rejectsWith } from "./helpers.js";
import { le, RawClient } from "./raw-client.js";

const le32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);

const RW = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

describe("server: negotiation, info and regions (device in another process)", () => {
  let dev: DeviceProcess;
  let c: RawClient;
  before(async () => {
    dev = await startDevice();
    c = await RawClient.connect(dev.path);
  });
  after(async () => {
    c.close();
    await dev.stop();
  });

  it("requires VERSION first, once, with our major", async () => {
    const early = await RawClient.connect(dev.path, { skipVersion: true });
    try {
      // The refusal path would answer EBUSY: wait until the first client is gone.
      await rejectsWith(early.regionRead(0, 0, 4), E.EBUSY, "second client");
    } finally {
      early.close();
    }
    c.close();
    await c.closed();
    const fresh = await RawClient.connect(dev.path, { skipVersion: true });
    await rejectsWith(fresh.regionRead(0, 0, 4), E.EINVAL, "read before VERSION");
    await fresh.version({ writeMultiple: true });
    assert.equal(fresh.negotiated?.capabilities?.writeMultiple, true);
    await rejectsWith(fresh.version(), E.EINVAL, "second VERSION");
    assert.equal(await fresh.read32(0, REG.ID), DEVICE_ID_VALUE);
    fresh.close();
    await fresh.closed();
    const bad = await RawClient.connect(dev.path, { skipVersion: true });
    await rejectsWith(bad.version(undefined, 1, 0), E.EPROTONOSUPPORT, "major 1");
    await bad.closed(); // the server closes after refusing the version
    c = await RawClient.connect(dev.path);
  });

  it("reports device info: PCI, reset, 10 regions, 5 IRQ types", async () => {
    const { reply } = await c.call(Command.VFIO_USER_DEVICE_GET_INFO, { argsz: 16 });
    assert.equal(reply.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    assert.equal(reply.numRegions, 10);
    assert.equal(reply.numIrqs, 5);
  });

  it("describes every region", async () => {
    const info = async (index: number, argsz = 256) =>
      c.call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, { argsz, index });
    const bar0 = await info(0);
    assert.equal(bar0.reply.size, 4096n);
    assert.equal(bar0.reply.flags, RW);
    assert.equal(bar0.fds.length, 0);
    const bar3 = await info(3);
    assert.equal(bar3.reply.size, 0n, "upper half of the 64-bit BAR2");
    assert.equal(bar3.reply.flags, 0);
    const rom = await info(6);
    assert.equal(rom.reply.flags, VFIO_REGION_INFO_FLAG_READ);
    assert.equal(rom.reply.size, 2048n);
    const cfg = await info(7);
    assert.equal(cfg.reply.size, 4096n, "PCI Express config space");
    assert.equal((await info(8)).reply.size, 0n, "no VGA");
    const r9 = await info(9);
    assert.deepEqual(r9.reply.caps, [
      { kind: "sparse-mmap", areas: [{ offset: 0n, size: 4096n }] },
      { kind: "type", type: 0x80001b36, subtype: 1 },
    ]);
    assert.equal(r9.reply.flags, RW | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS);
    assert.equal(r9.fds.length, 1);
    closeFd(r9.fds[0]!);
    const r9short = await info(9, 32);
    assert.equal(r9short.fds.length, 0, "the fd comes only with the capabilities");
    assert.equal(r9short.reply.flags & VFIO_REGION_INFO_FLAG_CAPS, 0);
    await rejectsWith(info(10), E.EINVAL, "index 10");
  });

  it("offers BAR2 sparsely around the MSI-X pages, with its memfd", async () => {
    const short = await c.call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, { argsz: 32, index: 2 });
    assert.ok(short.reply.argsz > 32, "argsz says how much the caps need");
    assert.deepEqual(short.reply.caps, []);
    assert.equal(short.reply.flags & VFIO_REGION_INFO_FLAG_CAPS, 0);
    assert.equal(short.fds.length, 0, "no fd without the caps (libvfio-user's client has no room)");
    const full = await c.call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, {
      argsz: short.reply.argsz,
      index: 2,
    });
    assert.equal(full.reply.size, 16384n);
    assert.equal(full.reply.flags, RW | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS);
    assert.deepEqual(full.reply.caps, [
      { kind: "sparse-mmap", areas: [{ offset: 0n, size: 0x2000n }] },
    ]);
    assert.equal(full.fds.length, 1);
    const ab = mmap(full.fds[0]!, full.reply.offset, 0x2000);
    closeFd(full.fds[0]!);
    try {
      const mem = new Uint8Array(ab);
      mem.set([1, 2, 3, 4], 0x10);
      assert.deepEqual(
        [...(await c.regionRead(2, 0x10, 4))],
        [1, 2, 3, 4],
        "socket reads see the mapping",
      );
      await c.regionWrite(2, 0x20, new Uint8Array([9, 8, 7]));
      assert.deepEqual([...mem.subarray(0x20, 0x23)], [9, 8, 7], "the mapping sees socket writes");
    } finally {
      munmap(ab);
    }
  });

  it("serves a BAR with trapped registers beside an mmap area", async () => {
    const r = await c.call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, { argsz: 256, index: 4 });
    assert.deepEqual(r.reply.caps, [
      { kind: "sparse-mmap", areas: [{ offset: 0x1000n, size: 0x1000n }] },
    ]);
    const ab = mmap(r.fds[0]!, 0, 0x2000);
    closeFd(r.fds[0]!);
    try {
      new Uint8Array(ab).set([0xaa], 0x1004);
      assert.equal(await c.read32(4, 0), 0xfeedf00d, "handler serves the trapped page");
      assert.equal((await c.regionRead(4, 0x1004, 1))[0], 0xaa, "memory serves the mmap area");
    } finally {
      munmap(ab);
    }
  });

  it("virtualizes config space: identity, BAR sizing, enabled decode", async () => {
    assert.equal(await c.read16(7, 0), 0x1b36);
    assert.equal(await c.read16(7, 2), 0x10f0);
    assert.equal(await c.read16(7, PCI_COMMAND), CMD_IO | CMD_MEMORY, "handed over enabled");
    await c.write32(7, 0x10, 0xffffffff);
    assert.equal(await c.read32(7, 0x10), 0xfffff000, "BAR0 size mask");
    await c.write32(7, 0x10, 0xfebf1000);
    assert.equal(await c.read32(7, 0x10), 0xfebf1000);
    await c.write16(7, 0, 0x1234);
    assert.equal(await c.read16(7, 0), 0x1b36, "vendor id is read-only");
  });

  it("reads and writes BARs, ROM and device regions with bounds checks", async () => {
    await c.write32(0, REG.SCRATCH, 0xcafe);
    assert.equal(await c.read32(0, REG.SCRATCH), 0xcafe);
    const rom = await c.regionRead(6, 0, ROM_BYTES.byteLength + 4);
    assert.deepEqual([...rom.subarray(0, ROM_BYTES.byteLength)], [...ROM_BYTES]);
    assert.deepEqual([...rom.subarray(ROM_BYTES.byteLength)], [0, 0, 0, 0]);
    await c.regionWrite(9, 100, new Uint8Array([5, 6]));
    assert.deepEqual([...(await c.regionRead(9, 100, 2))], [5, 6]);
    await c.regionWrite(1, 0x10, le(0x77, 1));
    assert.equal((await c.regionRead(1, 0x10, 1))[0], 0, "a BAR without handlers drops writes");
    await rejectsWith(c.regionRead(0, 4094, 4), E.EINVAL, "past the end");
    await rejectsWith(c.regionRead(0, 0, 0), E.EINVAL, "zero length");
    await rejectsWith(c.regionRead(3, 0, 4), E.EINVAL, "absent BAR");
    await rejectsWith(c.regionRead(10, 0, 4), E.EINVAL, "no such region");
    await rejectsWith(c.regionWrite(6, 0, new Uint8Array(4)), E.EINVAL, "ROM is read-only");
    await rejectsWith(c.regionRead(0, 0n - 1n + (1n << 64n), 4), E.EINVAL, "offset near 2^64");
  });

  it("turns handler failures into EIO (or the device's errno) and stays up", async () => {
    await rejectsWith(c.regionRead(0, REG.THROW, 4), E.EIO, "plain Error");
    await rejectsWith(c.write32(0, REG.THROW, 1), E.EPERM, "VfioError");
    assert.equal(await c.read32(0, REG.ID), DEVICE_ID_VALUE);
  });

  it("blocks memory and I/O BARs while decode is off, but not the MSI-X table", async () => {
    const calls = await c.read32(0, REG.CALLS);
    await c.write16(7, PCI_COMMAND, CMD_IO);
    await rejectsWith(c.read32(0, REG.SCRATCH), E.EIO, "BAR0 read");
    await rejectsWith(c.write32(0, REG.SCRATCH, 1), E.EIO, "BAR0 write");
    await rejectsWith(c.regionRead(6, 0, 4), E.EIO, "ROM read");
    await rejectsWith(c.regionRead(2, 0x1ffc, 8), E.EIO, "an access straddling into the table");
    assert.equal((await c.regionRead(2, 0x2000 + 12, 4))[0], 1, "MSI-X table still readable");
    await c.regionRead(2, 0x3000, 8);
    await c.regionRead(1, 0, 4);
    await c.write16(7, PCI_COMMAND, CMD_MEMORY);
    await rejectsWith(c.regionRead(1, 0, 4), E.EIO, "I/O BAR");
    await c.write16(7, PCI_COMMAND, CMD_IO | CMD_MEMORY);
    const pm = await findCap(c, 0x01);
    await c.write16(7, pm + 4, 3); // PMCSR: D3hot
    await rejectsWith(c.read32(0, REG.SCRATCH), E.EIO, "BAR0 in D3hot");
    await c.write16(7, pm + 4, 0);
    assert.equal(await c.read32(0, REG.CALLS), calls + 1, "the device never saw blocked accesses");
  });

  it("restores the command register and calls the device on DEVICE_RESET", async () => {
    const resets = await c.read32(0, REG.RESET_COUNT);
    await c.write16(7, PCI_COMMAND, 0);
    await rejectsWith(c.read32(0, REG.ID), E.EIO);
    await c.call(Command.VFIO_USER_DEVICE_RESET, {});
    assert.equal(await c.read16(7, PCI_COMMAND), CMD_IO | CMD_MEMORY);
    assert.equal(await c.read32(0, REG.RESET_COUNT), resets + 1);
    assert.equal(await c.read32(7, 0x10), 0, "BAR addresses are reset too");
  });

  it("resets the function on a PCIe Function Level Reset", async () => {
    const resets = await c.read32(0, REG.RESET_COUNT);
    const exp = await findCap(c, 0x10);
    await c.write16(7, PCI_COMMAND, CMD_IO);
    await c.write16(7, exp + 8, 0x8000); // DEVCTL: Initiate Function Level Reset
    assert.equal(await c.read32(0, REG.RESET_COUNT), resets + 1);
    assert.equal(await c.read16(7, PCI_COMMAND), CMD_IO | CMD_MEMORY, "command register restored");
    assert.equal((await c.read16(7, exp + 8)) & 0x8000, 0, "the FLR bit reads 0");
  });

  it("never answers NO_REPLY commands, even failing ones, and keeps their order", async () => {
    c.post(Command.VFIO_USER_REGION_WRITE, {
      region: 0,
      offset: BigInt(REG.SCRATCH),
      data: le(0x55, 4),
    });
    c.post(Command.VFIO_USER_REGION_WRITE, { region: 0, offset: 5000n, data: le(1, 4) });
    c.post(Command.VFIO_USER_REGION_WRITE, {
      region: 0,
      offset: BigInt(REG.THROW),
      data: le(1, 4),
    });
    c.post(Command.VFIO_USER_REGION_WRITE, {
      region: 0,
      offset: BigInt(REG.SLOW),
      data: le(0x66, 4),
    });
    assert.equal(await c.read32(0, REG.SCRATCH), 0x55);
    assert.equal(await c.read32(0, REG.SLOW), 0x66, "the slow posted write completed first");
    assert.equal(c.conn.droppedReplies, 0, "no stray replies arrived");
  });

  it("answers pipelined commands in order when an async handler precedes synchronous ones", async () => {
    const order: string[] = [];
    const send = <
      C extends typeof Command.VFIO_USER_REGION_READ | typeof Command.VFIO_USER_REGION_WRITE,
    >(
      label: string,
      command: C,
      body: Parameters<typeof encodeRequest<C>>[1],
    ) =>
      c.conn.request(command, encodeRequest(command, body)).then(
        (f) => {
          order.push(label);
          return f;
        },
        (err: Error) => {
          order.push(label);
          throw err;
        },
      );
    const read = (label: string, region: number, offset: number) =>
      send(label, Command.VFIO_USER_REGION_READ, { region, offset: BigInt(offset), count: 4 });
    const slow = send("slow write", Command.VFIO_USER_REGION_WRITE, {
      region: 0,
      offset: BigInt(REG.SLOW),
      data: le(0x99, 4),
    });
    const after = read("read after", 0, REG.SLOW);
    const failing = read("failing read", 0, REG.THROW);
    const outside = read("outside", 0, 4094);
    const config = read("config", 7, 0);
    await slow;
    const value = decodeReply(Command.VFIO_USER_REGION_READ, (await after).body, { numFds: 0 });
    assert.equal(le32(value.data), 0x99, "the read waited for the slow write before it");
    await rejectsWith(failing, E.EIO, "handler threw");
    await rejectsWith(outside, E.EINVAL, "out of bounds");
    await config;
    assert.deepEqual(order, ["slow write", "read after", "failing read", "outside", "config"]);
  });

  it("applies REGION_WRITE_MULTI in order and stops at the first failure", async () => {
    const r = await c.call(Command.VFIO_USER_REGION_WRITE_MULTI, {
      writes: [
        { region: 0, offset: BigInt(REG.SCRATCH), data: le(1, 4) },
        { region: 0, offset: BigInt(REG.BUF), data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
        { region: 7, offset: BigInt(PCI_COMMAND), data: le(CMD_IO | CMD_MEMORY, 2) },
      ],
    });
    assert.equal(r.reply.wrCnt, 3);
    assert.deepEqual([...(await c.regionRead(0, REG.BUF, 8))], [1, 2, 3, 4, 5, 6, 7, 8]);
    await rejectsWith(
      c.call(Command.VFIO_USER_REGION_WRITE_MULTI, {
        writes: [
          { region: 0, offset: BigInt(REG.SCRATCH), data: le(3, 4) },
          { region: 3, offset: 0n, data: le(0, 4) },
          { region: 0, offset: BigInt(REG.SCRATCH), data: le(4, 4) },
        ],
      }),
      E.EINVAL,
    );
    assert.equal(await c.read32(0, REG.SCRATCH), 3);
  });

  it("carries REGION_WRITE_MULTI on in order across an asynchronous handler", async () => {
    const r = await c.call(Command.VFIO_USER_REGION_WRITE_MULTI, {
      writes: [
        { region: 0, offset: BigInt(REG.SCRATCH), data: le(5, 4) },
        { region: 0, offset: BigInt(REG.SLOW), data: le(0x77, 4) },
        { region: 0, offset: BigInt(REG.SCRATCH), data: le(6, 4) },
      ],
    });
    assert.equal(r.reply.wrCnt, 3);
    assert.equal(await c.read32(0, REG.SLOW), 0x77);
    assert.equal(await c.read32(0, REG.SCRATCH), 6, "the write after the slow one ran last");
    await rejectsWith(
      c.call(Command.VFIO_USER_REGION_WRITE_MULTI, {
        writes: [
          { region: 0, offset: BigInt(REG.SLOW), data: le(0x78, 4) },
          { region: 3, offset: 0n, data: le(0, 4) },
          { region: 0, offset: BigInt(REG.SCRATCH), data: le(7, 4) },
        ],
      }),
      E.EINVAL,
    );
    assert.equal(await c.read32(0, REG.SCRATCH), 6, "nothing after the failure ran");
  });

  it("answers malformed and unsupported messages with the right errno", async () => {
    await rejectsWith(c.raw(99, new Uint8Array(0)), E.ENOSYS, "unknown command");
    await rejectsWith(
      c.raw(Command.VFIO_USER_REGION_READ, new Uint8Array(8)),
      E.EINVAL,
      "short body",
    );
    await rejectsWith(c.regionRead(0, 0, 2 * 1024 * 1024), E.E2BIG, "beyond max_data_xfer_size");
    await rejectsWith(
      c.raw(Command.VFIO_USER_DEVICE_FEATURE, new Uint8Array(8)),
      E.EINVAL,
      "bad argsz",
    );
    const feat = new Uint8Array(8);
    new DataView(feat.buffer).setUint32(0, 64, true);
    new DataView(feat.buffer).setUint32(4, 1 | (1 << 16), true);
    await rejectsWith(c.raw(Command.VFIO_USER_DEVICE_FEATURE, feat), E.ENOTTY, "migration feature");
    await rejectsWith(
      c.call(Command.VFIO_USER_DMA_READ, { address: 0n, count: 4 }),
      E.EINVAL,
      "server-to-client command",
    );
    await rejectsWith(
      c.call(Command.VFIO_USER_DMA_WRITE, { address: 0n, data: new Uint8Array(4) }),
      E.EINVAL,
      "server-to-client command",
    );
    await rejectsWith(
      c.call(Command.VFIO_USER_MIG_DATA_READ, { argsz: 24, size: 16 }),
      E.ENOTTY,
      "no migration",
    );
    const io = await c.call(Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS, { argsz: 64, index: 0 });
    assert.equal(io.reply.count, 0);
    assert.equal(await c.read32(0, REG.ID), DEVICE_ID_VALUE, "connection still works");
  });
});
