/**
 * The client against a server that lies (test/client/mini-server.ts, its own process):
 * every bogus reply must become a clear error on that request, never a crash, a hang,
 * a leaked fd or a huge allocation.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Container } from "../../src/client/container.js";
import { IommuOwner } from "../../src/client/iommu-owner.js";
import { VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX } from "../../src/client/vfio-abi.js";
import type { VfioUserBackend } from "../../src/client/vfio-user-backend.js";
import { VfioUserClient } from "../../src/client/vfio-user-client.js";
import { Errno, VfioError } from "../../src/errors.js";
import { PasidAllocator } from "../../src/iommu/index.js";
import { openFdCount } from "../helpers/fds.js";
import { BOGUS } from "./mini-server-modes.js";
import { type ServerProcess, startServer } from "./spawn.js";

const MINI = new URL("./mini-server.js", import.meta.url);

function eproto(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof VfioError, `expected a VfioError, got ${e}`);
    assert.equal(e.code, "EPROTO", e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

describe("untrusted server: bogus replies", () => {
  let server: ServerProcess;
  let client: VfioUserClient;
  before(async () => {
    server = await startServer(MINI);
    client = await VfioUserClient.connect(server.path);
  });
  after(async () => {
    await client.close();
    await server.stop();
  });

  it("replies that do not match their request fail with EPROTO and the connection keeps working", async () => {
    const d = client.device;
    const cases: [number, RegExp][] = [
      [BOGUS.SHORT, /asked for 4 bytes of region 2 at 0x100, got 2 bytes/],
      [BOGUS.WRONG_OFFSET, /at 0x204/],
      [BOGUS.WRONG_REGION, /bytes of region 0 at/],
      [
        BOGUS.WRONG_COMMAND,
        /reply to VFIO_USER_REGION_READ .* carries command VFIO_USER_DEVICE_GET_INFO/,
      ],
      [BOGUS.GARBAGE, /bad VFIO_USER_REGION_READ reply/],
    ];
    for (const [offset, pattern] of cases) {
      await assert.rejects(d.read32(2, offset), eproto(pattern));
      assert.equal(await d.read32(2, 0), 0, "the next request still works");
    }
  });

  it("an fd that comes with a reply that carries none is closed, not leaked", async () => {
    const before = openFdCount();
    await assert.rejects(client.device.read32(2, BOGUS.WITH_FD), eproto(/file descriptor/));
    assert.equal(openFdCount(), before);
  });

  it("a reply to an id nobody used is dropped", async () => {
    const conn = (client.device.backend as VfioUserBackend).connection;
    const dropped = conn.droppedReplies;
    assert.equal(await client.device.read32(2, BOGUS.STRAY_REPLY), 0x77777777);
    assert.equal(conn.droppedReplies, dropped + 1);
  });

  it("region infos that lie are refused, and their fds closed", async () => {
    const d = client.device;
    await assert.rejects(d.regionInfo(3), eproto(/asked for region 3, got 4/));
    const before = openFdCount();
    await assert.rejects(d.mmap(4), eproto(/runs past the 65536-byte region/));
    assert.equal(openFdCount(), before);
    await assert.rejects(d.regionInfo(5), eproto(/needs argsz 1048576/));
  });

  it("IRQ infos that lie are refused", async () => {
    const d = client.device;
    await assert.rejects(d.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX), eproto(/count 100000/));
    await assert.rejects(d.irqs.info(VFIO_PCI_MSI_IRQ_INDEX), eproto(/asked for index 1, got 3/));
  });

  it("a DMA_UNMAP reply naming another window is reported", async () => {
    const c = new Container({
      owner: new IommuOwner({ memlockLimit: "infinity", pasids: new PasidAllocator() }),
    });
    try {
      await c.attach(client.device);
      const m = await c.mapMemory(0x10000n, new Uint8Array(4096));
      await assert.rejects(m.unmap(), (e: unknown) => {
        assert.ok(e instanceof AggregateError);
        eproto(/unmapped \[0x10000, \+0x1000\), the reply names \[0x11000/)(e.errors[0]);
        return true;
      });
      assert.equal(m.mapped, false, "the driver side still dropped the mapping");
    } finally {
      await c.close().catch(() => {});
    }
  });

  it("the server's own requests are answered safely: oversized and unmapped DMA_READ", async () => {
    const d = client.device;
    await d.read32(2, BOGUS.DMA_READ_HUGE);
    assert.equal(await d.read32(2, BOGUS.LAST_CLIENT_ERRNO), Errno.E2BIG);
    await d.read32(2, BOGUS.DMA_READ_UNMAPPED);
    assert.equal(await d.read32(2, BOGUS.LAST_CLIENT_ERRNO), Errno.EFAULT);
  });

  it("a frame claiming 2 GiB drops the connection: the request fails and disconnect is emitted", async () => {
    const c2 = await VfioUserClient.connect(server.path);
    const disconnected = new Promise<Error>((resolve) => c2.device.once("disconnect", resolve));
    await assert.rejects(
      c2.device.read32(2, BOGUS.HUGE_HEADER),
      /disconnected|maximum|exceeds|size/,
    );
    assert.match((await disconnected).message, /vfio-user server disconnected/);
    await c2.close();
  });
});

describe("untrusted server: bad handshakes and device infos", () => {
  const cases: [string, string, RegExp][] = [
    ["--bad-version", "EPROTONOSUPPORT", /server refused: server major 1/],
    ["--garbage-version", "EPROTO", /bad VERSION reply/],
    ["--huge-regions", "EPROTO", /num_regions 100000/],
  ];
  for (const [mode, code, pattern] of cases) {
    it(`${mode}: connect fails with ${code}`, async () => {
      const server = await startServer(MINI, [mode]);
      const before = openFdCount();
      try {
        await assert.rejects(VfioUserClient.connect(server.path), (e: unknown) => {
          assert.ok(e instanceof VfioError);
          assert.equal(e.code, code, e.message);
          assert.match(e.message, pattern);
          return true;
        });
        await new Promise((r) => setImmediate(r));
        assert.equal(openFdCount(), before, "the socket was closed");
      } finally {
        await server.stop();
      }
    });
  }
});
