import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Container, type ContainerDevice } from "../../src/client/container.js";
import { IommuOwner } from "../../src/client/iommu-owner.js";
import { VfioError } from "../../src/errors.js";
import { EDQUOT, IommuFaultError, PasidAllocator } from "../../src/iommu/index.js";
import { F_SEAL_GROW, F_SEAL_SHRINK, MemFd, mmap, munmap } from "../../src/sys/index.js";
import { isCode } from "../helpers/errors.js";
import { openFdCount } from "../helpers/fds.js";
import { FakeBackend, type FakeOptions } from "./fake-backend.js";

function device(name: string, opts: FakeOptions = {}): ContainerDevice & { fake: FakeBackend } {
  const fake = new FakeBackend(opts);
  return { backend: fake, name, fake };
}

function owner(limit: bigint | "infinity" = "infinity", quota?: number) {
  return new IommuOwner({ memlockLimit: limit, pasids: new PasidAllocator(), pasidQuota: quota });
}

describe("Container DMA mappings", () => {
  it("maps driver memory on every attached device and serves DMA_READ/DMA_WRITE from it", async () => {
    const c = new Container({ owner: owner() });
    const a = device("devA");
    const b = device("devB");
    try {
      await c.attach(a);
      await c.attach(b);
      const mem = new Uint8Array(8192);
      mem.set([1, 2, 3, 4], 4096);
      const m = await c.mapMemory(0x10000n, mem, "rw");
      for (const d of [a, b]) {
        assert.deepEqual(
          d.fake.maps.map((r) => [r.iova, r.size, r.read, r.write, r.fd]),
          [[0x10000n, 8192n, true, true, -1]],
        );
        assert.equal(d.fake.dma, c, "the container serves the device's DMA");
      }
      assert.deepEqual(a.fake.dma!.dmaRead(0x11000n, 4), Uint8Array.of(1, 2, 3, 4));
      b.fake.dma!.dmaWrite(0x10010n, Uint8Array.of(9, 8));
      assert.deepEqual(mem.subarray(0x10, 0x12), Uint8Array.of(9, 8));
      await m.unmap();
      assert.equal(m.mapped, false);
      assert.deepEqual(a.fake.unmaps, [{ iova: 0x10000n, size: 8192n }]);
      assert.deepEqual(b.fake.unmaps, [{ iova: 0x10000n, size: 8192n }]);
      assert.throws(() => a.fake.dma!.dmaRead(0x10000n, 1), isCode("EFAULT"));
    } finally {
      await c.close();
      a.fake.dispose();
      b.fake.dispose();
    }
  });

  it("faults device accesses outside the windows or against their permissions (EFAULT)", async () => {
    const c = new Container({ owner: owner() });
    const a = device("devA");
    try {
      await c.attach(a);
      await c.mapMemory(0x2000n, new Uint8Array(4096), "r");
      await c.mapMemory(0x3000n, new Uint8Array(4096), "w");
      const h = a.fake.dma!;
      assert.throws(
        () => h.dmaWrite(0x2000n, Uint8Array.of(1)),
        (e: unknown) => e instanceof IommuFaultError && e.reason === "permission",
      );
      assert.throws(
        () => h.dmaRead(0x3000n, 1),
        (e: unknown) => e instanceof IommuFaultError && e.code === "EFAULT",
      );
      assert.throws(
        () => h.dmaRead(0x1ff0n, 32),
        (e: unknown) => e instanceof IommuFaultError && e.reason === "unmapped",
      );
      h.dmaWrite(0x3ffen, Uint8Array.of(5, 6));
      assert.equal(c.domain.faults, 3);
    } finally {
      await c.close();
      a.fake.dispose();
    }
  });

  it("allocateBuffer shares memfd pages with the devices in both directions; free() detaches", async () => {
    const fdsBefore = openFdCount();
    const c = new Container({ owner: owner() });
    const a = device("devA");
    try {
      await c.attach(a);
      const buf = await c.allocateBuffer(5000);
      assert.equal(buf.size, 8192n, "rounded up to pages");
      assert.ok(buf.iova >= 4096n, "page 0 is not handed out");
      const req = a.fake.maps[0]!;
      assert.ok(req.fd >= 0, "the device got an fd");
      assert.equal(req.fd, buf.fd);
      // The "device" maps the fd it received, as a vfio-user server does.
      const deviceView = new Uint8Array(mmap(req.fd, req.fdOffset, Number(req.size)));
      deviceView[100] = 0xab;
      assert.equal(buf.bytes[100], 0xab, "device write seen by the driver");
      buf.bytes[200] = 0xcd;
      assert.equal(deviceView[200], 0xcd, "driver write seen by the device");
      munmap(deviceView.buffer as ArrayBuffer);
      // A device holding the fd must not be able to truncate it under our mapping.
      const sealed = F_SEAL_SHRINK | F_SEAL_GROW;
      assert.equal(new MemFd(req.fd).seals & sealed, sealed, "size is sealed");
      const ab = buf.buffer;
      await buf.free();
      assert.equal(ab.byteLength, 0);
      assert.equal(buf.fd, -1);
      assert.throws(() => buf.buffer, isCode("EBADF"));
      assert.deepEqual(a.fake.unmaps, [{ iova: buf.iova, size: 8192n }]);
      const second = await c.allocateBuffer(4096);
      assert.equal(second.iova, buf.iova, "freed IOVA is reused");
    } finally {
      await c.close();
      a.fake.dispose();
    }
    assert.equal(openFdCount(), fdsBefore, "memfds closed");
  });

  it("replays existing mappings to a device attached later; detach unmaps only that device", async () => {
    const c = new Container({ owner: owner() });
    const a = device("devA");
    const b = device("devB");
    try {
      await c.attach(a);
      await c.mapMemory(0x4000n, new Uint8Array(4096));
      const buf = await c.allocateBuffer(4096, { iova: 0x8000n, perms: "r" });
      await c.attach(b);
      assert.deepEqual(
        b.fake.maps.map((r) => [r.iova, r.read, r.write, r.fd >= 0]),
        [
          [0x4000n, true, true, false],
          [0x8000n, true, false, true],
        ],
      );
      assert.equal(buf.perms.write, false);
      await c.detach(b);
      assert.equal(b.fake.unmaps.length, 2);
      assert.equal(a.fake.unmaps.length, 0);
      assert.equal(b.fake.dma, null);
      await assert.rejects(new Container({ owner: owner() }).attach(a), isCode("EBUSY"));
    } finally {
      await c.close();
      a.fake.dispose();
      b.fake.dispose();
    }
  });

  it("type1v2 unmap: a range may cover whole mappings, never split one", async () => {
    const c = new Container({ owner: owner() });
    const a = device("devA");
    try {
      await c.attach(a);
      await c.mapMemory(0x10000n, new Uint8Array(8192));
      await c.mapMemory(0x12000n, new Uint8Array(4096));
      await assert.rejects(c.unmap(0x11000n, 0x1000n), isCode("EINVAL"));
      await assert.rejects(c.mapMemory(0x11000n, new Uint8Array(4096)), isCode("EEXIST"));
      await assert.rejects(c.mapMemory(0x20001n, new Uint8Array(4096)), isCode("EINVAL"));
      assert.equal(await c.unmap(0x10000n, 0x3000n), 0x3000n);
      assert.deepEqual(
        a.fake.unmaps.map((u) => u.iova),
        [0x10000n, 0x12000n],
      );
      assert.equal(c.domain.count, 0);
    } finally {
      await c.close();
      a.fake.dispose();
    }
  });

  it("a map that one device refuses is rolled back everywhere", async () => {
    const c = new Container({ owner: owner() });
    const a = device("devA");
    const b = device("devB");
    try {
      await c.attach(a);
      await c.attach(b);
      b.fake.failNextMap = new VfioError("ENOSPC", "server table full");
      await assert.rejects(
        c.mapMemory(0x10000n, new Uint8Array(4096)),
        (e: unknown) => isCode("ENOSPC")(e) && /devB/.test(String(e)),
      );
      assert.deepEqual(a.fake.unmaps, [{ iova: 0x10000n, size: 4096n }]);
      assert.equal(c.domain.count, 0);
      assert.equal(c.pinnedBytes, 0n);
    } finally {
      await c.close();
      a.fake.dispose();
      b.fake.dispose();
    }
  });

  it("follows the devices' max_dma_maps and page sizes", async () => {
    const c = new Container({ owner: owner() });
    const small = device("small", { limits: { maxDmaMaps: 1 } });
    const big = device("bigpages", { limits: { pgsizes: 0x10000n } });
    try {
      await c.attach(small);
      await c.mapMemory(0x1000n, new Uint8Array(4096));
      await assert.rejects(
        c.mapMemory(0x2000n, new Uint8Array(4096)),
        (e: unknown) => isCode("ENOSPC")(e) && /max_dma_maps/.test(String(e)),
      );
      await assert.rejects(
        c.attach(big),
        (e: unknown) => isCode("EINVAL")(e) && /page sizes/.test(String(e)),
      );
    } finally {
      await c.close();
      small.fake.dispose();
      big.fake.dispose();
    }
  });
});

describe("Container pinned-memory accounting", () => {
  it("fails with ENOMEM naming the memlock limit and pins nothing", async () => {
    const c = new Container({ memlockLimit: 65536n });
    const a = device("devA");
    try {
      await c.attach(a);
      await c.allocateBuffer(32768);
      await assert.rejects(
        c.allocateBuffer(65536),
        (e: unknown) =>
          isCode("ENOMEM")(e) && /RLIMIT_MEMLOCK/.test(String(e)) && /65536 bytes/.test(String(e)),
      );
      await assert.rejects(c.mapMemory(0x100000n, new Uint8Array(40960)), isCode("ENOMEM"));
      assert.equal(a.fake.maps.length, 1, "the refused maps never reached the device");
      assert.equal(c.pinnedBytes, 32768n);
    } finally {
      await c.close();
      a.fake.dispose();
    }
  });

  it("containers of one owner share its account; unmapping returns pages", async () => {
    const o = owner(16384n);
    const c1 = new Container({ owner: o });
    const c2 = new Container({ owner: o });
    try {
      const m = await c1.mapMemory(0x1000n, new Uint8Array(12288));
      await assert.rejects(c2.mapMemory(0x1000n, new Uint8Array(8192)), isCode("ENOMEM"));
      assert.equal(o.pinnedBytes, 12288n);
      await m.unmap();
      await c2.mapMemory(0x1000n, new Uint8Array(8192));
      assert.equal(o.pinnedBytes, 8192n);
      o.memlockLimit = "infinity";
      await c1.mapMemory(0x100000n, new Uint8Array(1 << 20));
    } finally {
      await c1.close();
      await c2.close();
    }
    assert.equal(o.pinnedBytes, 0n);
  });

  it("the default owner's limit comes from RLIMIT_MEMLOCK", () => {
    const o = new IommuOwner({ pasids: new PasidAllocator() });
    assert.ok(o.memlockLimit === "infinity" || typeof o.memlockLimit === "bigint");
  });
});

describe("Container PASIDs", () => {
  it("allocates within [min, max] under a quota shared by all containers of an owner", async () => {
    const o = owner("infinity", 3);
    const c1 = new Container({ owner: o });
    const c2 = new Container({ owner: o });
    try {
      assert.equal(c1.allocPasid(100, 200), 100);
      assert.equal(c2.allocPasid(100, 200), 101);
      assert.equal(c1.allocPasid(150, 200), 150);
      assert.throws(
        () => c2.allocPasid(0, 1000),
        (e: unknown) => e instanceof VfioError && e.errno === EDQUOT,
      );
      assert.throws(() => c1.allocPasid(10, 5), isCode("EINVAL"));
      assert.deepEqual(c2.freePasids(101, 150), [101, 150]);
      assert.equal(o.pasidCount, 1);
      assert.equal(c1.allocPasid(300, 300), 300);
    } finally {
      await c1.close();
      await c2.close();
    }
  });

  it("frees a range in N+1 lookups, never another owner's, and all of them on [0, 0xFFFFFFFF]", async () => {
    const pasids = new PasidAllocator();
    const o1 = new IommuOwner({ memlockLimit: "infinity", pasids });
    const o2 = new IommuOwner({ memlockLimit: "infinity", pasids });
    const c1 = new Container({ owner: o1 });
    const c2 = new Container({ owner: o2 });
    try {
      for (let i = 0; i < 5; i++) c1.allocPasid(1, 0xfffff);
      const theirs = c2.allocPasid(1, 0xfffff);
      assert.equal(theirs, 6);
      const before = pasids.lookups;
      assert.deepEqual(c1.freePasids(2, 4), [2, 3, 4]);
      assert.ok(pasids.lookups - before <= 4, "at most N+1 lookups for N = 3");
      assert.deepEqual(c1.freePasids(6, 6), [], "not the other owner's");
      assert.equal(pasids.ownerOf(6), o2);
      const before2 = pasids.lookups;
      assert.deepEqual(c1.freePasids(0, 0xffffffff), [1, 5]);
      assert.ok(pasids.lookups - before2 <= 3, "at most N+1 lookups over the whole u32 range");
    } finally {
      await c1.close();
      await c2.close();
    }
  });

  it("the owner's PASIDs are released when its last container closes", async () => {
    const o = owner();
    const c1 = new Container({ owner: o });
    const c2 = new Container({ owner: o });
    c1.allocPasid(0, 10);
    c2.allocPasid(0, 10);
    await c1.close();
    assert.equal(o.pasidCount, 2, "still held while a container is open");
    await c2.close();
    assert.equal(o.pasidCount, 0);
    assert.throws(() => c2.allocPasid(0, 10), isCode("EBADF"));
  });
});

describe("Container lifecycle", () => {
  it("close unmaps everything from every device and detaches them; a dead device does not block it", async () => {
    const c = new Container({ owner: owner() });
    const a = device("devA");
    const b = device("devB");
    await c.attach(a);
    await c.attach(b);
    const buf = await c.allocateBuffer(4096);
    await c.mapMemory(0x100000n, new Uint8Array(4096));
    b.fake.closed = true; // its unmaps now fail with ENOTCONN
    await c.close();
    assert.equal(a.fake.unmaps.length, 2);
    assert.equal(c.domain.count, 0);
    assert.equal(c.devices.length, 0);
    assert.equal(buf.mapped, false);
    assert.equal(a.fake.dma, null);
    await assert.rejects(c.allocateBuffer(4096), isCode("EBADF"));
    a.fake.dispose();
    b.fake.dispose();
  });
});
