import assert from "node:assert/strict";
import { describe, it } from "node:test";
// The README tutorial's device, exercised here in-process over a socketpair (the
// tutorial test runs it as a separate process).
import counterDevice from "../../examples/counter-device.js";
import type { VfioError } from "../../src/errors.js";
import { Command } from "../../src/protocol/index.js";
import { createDevice, silentLogger, VfioUserServer } from "../../src/server/index.js";
import { EventFd, MemFd, munmap, socketPair } from "../../src/sys/index.js";
import { E, rejectsWith } from "./helpers.js";
import { RawClient } from "./raw-client.js";

describe("device SDK (in-process server over a socketpair)", () => {
  it("serves a small device: registers, MSI-X and DMA", async () => {
    const dev = counterDevice();
    const server = new VfioUserServer(dev, { logger: silentLogger });
    const events: string[] = [];
    server.on("connect", () => events.push("connect"));
    server.on("disconnect", () => events.push("disconnect"));
    const [a, b] = socketPair();
    server.serve(a);
    const c = await RawClient.over(b);
    await c.enableBusMaster();
    const efd = EventFd.create();
    const ram = MemFd.create("ram", 4096);
    const view = new DataView(ram.map(0, 4096));
    try {
      assert.equal(await c.read32(0, 0), 0xc0ffee);
      await c.call(
        Command.VFIO_USER_DEVICE_SET_IRQS,
        { argsz: 20, action: "trigger", data: "eventfd", index: 2, start: 0, count: 1 },
        { fds: [efd.fd] },
      );
      await c.write32(0, 0x8, 5);
      assert.equal(await c.read32(0, 0x4), 5);
      assert.equal(efd.read(), 1n);
      for (let i = 0; i < 8; i++) view.setBigUint64(0x40 + 8 * i, 0x1122334455n * BigInt(i), true);
      await c.call(
        Command.VFIO_USER_DMA_MAP,
        { argsz: 32, flags: 3, offset: 0n, address: 0x10000n, size: 4096n },
        { fds: [ram.fd] },
      );
      await c.write32(0, 0xc, 0x10040);
      const sum = await c.regionRead(0, 0x10, 8);
      assert.equal(new DataView(sum.buffer).getBigUint64(0, true), 0x1122334455n * 28n);
      assert.equal(dev.connected, true);
      await c.call(Command.VFIO_USER_DEVICE_RESET, {});
      assert.equal(await c.read32(0, 0x4), 0);
      // Not a PCIe device: no ERR index, and EINVAL (as vfio-pci) rather than count 0,
      // which QEMU would warn about.
      await rejectsWith(
        c.call(Command.VFIO_USER_DEVICE_GET_IRQ_INFO, { argsz: 16, index: 3 }),
        E.EINVAL,
      );
      c.close();
      await server.idle();
      assert.equal(dev.connected, false);
      assert.deepEqual(events, ["connect", "disconnect"]);
      assert.deepEqual(server.stats, { connections: 1, refused: 0 });
    } finally {
      munmap(view.buffer as ArrayBuffer);
      ram.close();
      efd.close();
      await server.close();
      dev.close();
    }
  });

  it("lets the device see its mmap-backed BAR and write its own config bits", async () => {
    const dev = createDevice({
      vendorId: 1,
      deviceId: 2,
      classCode: 0,
      bars: [{ kind: "mem64", size: 8192, mmap: true }],
    });
    try {
      const mem = dev.bar(0).memory!;
      assert.equal(mem.byteLength, 8192);
      assert.throws(() => dev.bar(2), { code: "EINVAL" });
      const server = new VfioUserServer(dev, { logger: silentLogger });
      const [a, b] = socketPair();
      server.serve(a);
      const c = await RawClient.over(b);
      mem.set([1, 2, 3], 100);
      assert.deepEqual([...(await c.regionRead(0, 100, 3))], [1, 2, 3]);
      dev.config.write(0x06, 2, 0x8000); // STATUS: Detected Parity Error, a device-owned bit
      assert.equal(dev.config.status & 0x8000, 0x8000);
      await c.write16(7, 0x06, 0x8000); // RW1C from the client
      assert.equal(dev.config.status & 0x8000, 0);
      dev.config.write(0x00, 2, 0xffff);
      assert.equal(dev.config.read(0x00, 2), 1, "identity is not the device's to change");
      assert.equal(await dev.dma.read(0, 4).catch((e: VfioError) => e.code), "EFAULT");
      assert.equal(dev.dma.faults, 1);
      c.close();
      await server.close();
    } finally {
      dev.close();
    }
  });

  it("logs connections, and every access when verbose", async () => {
    const dev = counterDevice();
    const lines: string[] = [];
    const logger = {
      info: (m: string) => lines.push(`info ${m}`),
      warn: (m: string) => lines.push(`warn ${m}`),
      error: (m: string) => lines.push(`error ${m}`),
      debug: (m: string) => lines.push(`debug ${m}`),
    };
    const server = new VfioUserServer(dev, { logger, verbose: true });
    const [a, b] = socketPair();
    server.serve(a);
    const c = await RawClient.over(b);
    await c.write32(0, 0x8, 2);
    await c.read32(0, 0x4);
    await rejectsWith(c.regionRead(0, 4096, 4), E.EINVAL);
    c.close();
    await server.close();
    dev.close();
    const has = (re: RegExp) =>
      assert.ok(
        lines.some((l) => re.test(l)),
        `no line matches ${re}: ${lines.join("\n")}`,
      );
    has(/^info .*connected/);
    has(/^info .*negotiated vfio-user 0\.1/);
    has(/^debug write BAR0 \+0x8 \[4\] <- 0x00000002/);
    has(/^debug read {2}BAR0 \+0x4 \[4\] -> 0x00000002/);
    has(/^debug .*REGION_READ .*EINVAL/);
    has(/^info .*disconnected/);
  });

  it("rejects invalid definitions with EINVAL", () => {
    const base = { vendorId: 1, deviceId: 2, classCode: 0 };
    const bad = [
      { ...base, bars: [{ kind: "mem32" as const, size: 3000 }] },
      { ...base, bars: [{ kind: "mem32" as const, size: 4096, mmap: [{ offset: 0, size: 100 }] }] },
      { ...base, bars: [{ kind: "io" as const, size: 256, mmap: true }] },
      { ...base, rom: { size: 2048, data: new Uint8Array(4096) } },
      { ...base, regions: [{ type: 1, subtype: 1, size: 0 }] },
      {
        ...base,
        bars: [{ kind: "mem32" as const, size: 4096, mmap: true }],
        capabilities: [
          {
            kind: "msix" as const,
            tableSize: 4,
            tableBar: 0,
            tableOffset: 0,
            pbaBar: 0,
            pbaOffset: 0x800,
          },
        ],
      },
    ];
    for (const def of bad)
      assert.throws(() => createDevice(def), { code: "EINVAL" }, JSON.stringify(def));
  });

  it("refuses a second client over serve() too, and reports it", async () => {
    const dev = counterDevice();
    const server = new VfioUserServer(dev, { logger: silentLogger });
    const [a1, b1] = socketPair();
    const [a2, b2] = socketPair();
    server.serve(a1);
    const first = await RawClient.over(b1);
    server.serve(a2);
    await rejectsWith(RawClient.over(b2), E.EBUSY);
    assert.equal(server.stats.refused, 1);
    await first.write32(0, 0x8, 1);
    first.close();
    await server.close();
    dev.close();
  });
});
