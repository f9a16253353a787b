import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DmaMapRequest, DmaTarget } from "../../../src/client/backend.js";
import { Container, type ContainerDevice } from "../../../src/client/container.js";
import { IommuOwner } from "../../../src/client/iommu-owner.js";
import { VfioError } from "../../../src/errors.js";
import { PasidAllocator } from "../../../src/iommu/index.js";
import { FakeBackend, type FakeOptions } from "../fake-backend.js";

/** What a kernel VFIO container is to its devices: one IOMMU table they all share. */
class RecordingTarget implements DmaTarget {
  readonly maps: DmaMapRequest[] = [];
  readonly unmaps: { iova: bigint; size: bigint }[] = [];
  async dmaMap(req: DmaMapRequest): Promise<void> {
    this.maps.push(req);
  }
  async dmaUnmap(iova: bigint, size: bigint): Promise<void> {
    this.unmaps.push({ iova, size });
  }
}

class SharedTargetBackend extends FakeBackend {
  constructor(
    readonly dmaTarget: DmaTarget,
    opts: FakeOptions = {},
  ) {
    super(opts);
  }
}

function device(name: string, target: DmaTarget, opts: FakeOptions = {}) {
  const fake = new SharedTargetBackend(target, opts);
  return { backend: fake, name, fake } satisfies ContainerDevice & { fake: FakeBackend };
}

const owner = () => new IommuOwner({ memlockLimit: "infinity", pasids: new PasidAllocator() });

describe("Container over devices that share a DMA target (one kernel VFIO container)", () => {
  it("maps each window once per target, with the driver's memory, and unmaps it once", async () => {
    const shared = new RecordingTarget();
    const c = new Container({ owner: owner() });
    const a = device("a", shared);
    const b = device("b", shared);
    try {
      await c.attach(a);
      const buf = await c.allocateBuffer(8192);
      await c.attach(b);
      assert.equal(shared.maps.length, 1, "b joined a target that already had the window");
      const req = shared.maps[0]!;
      assert.equal(req.iova, buf.iova);
      assert.equal(req.memory?.byteLength, 8192, "the kernel needs the driver's own memory");
      assert.equal(a.fake.maps.length + b.fake.maps.length, 0, "no per-device maps");
      await c.mapMemory(0x100000n, new Uint8Array(4096));
      assert.equal(shared.maps.length, 2);
      await c.detach(a);
      assert.equal(shared.unmaps.length, 0, "b still uses the target");
      await c.unmap(0x100000n, 4096n);
      assert.deepEqual(shared.unmaps, [{ iova: 0x100000n, size: 4096n }]);
      await c.detach(b);
      assert.deepEqual(shared.unmaps.at(-1), { iova: buf.iova, size: 8192n });
      assert.equal(shared.unmaps.length, 2);
    } finally {
      await c.close();
      a.fake.dispose();
      b.fake.dispose();
    }
  });

  it("maps once per distinct target when devices sit in different containers", async () => {
    const t1 = new RecordingTarget();
    const t2 = new RecordingTarget();
    const c = new Container({ owner: owner() });
    const devs = [device("a", t1), device("b", t1), device("c", t2)];
    try {
      for (const d of devs) await c.attach(d);
      await c.mapMemory(0x4000n, new Uint8Array(4096));
      assert.equal(t1.maps.length, 1);
      assert.equal(t2.maps.length, 1);
    } finally {
      await c.close();
      for (const d of devs) d.fake.dispose();
    }
  });

  it("adopts the device's IOVA ranges, and refuses a device whose ranges exclude a mapping", async () => {
    const c = new Container({ owner: owner() });
    const ranges = [
      { start: 0n, end: 0xfedfffffn },
      { start: 0xfef00000n, end: 0xffffffffffn },
    ];
    const a = device("a", new RecordingTarget(), { limits: { iovaRanges: ranges } });
    const narrow = device("narrow", new RecordingTarget(), {
      limits: { iovaRanges: [{ start: 0n, end: 0xffffn }] },
    });
    try {
      await c.attach(a);
      assert.deepEqual(c.domain.iovaRanges, ranges);
      await assert.rejects(
        c.mapMemory(0xfee00000n, new Uint8Array(4096)),
        (e: unknown) => e instanceof VfioError && e.code === "EINVAL",
        "the MSI hole is not mappable",
      );
      await c.mapMemory(0x100000n, new Uint8Array(4096));
      await assert.rejects(
        c.attach(narrow),
        (e: unknown) => e instanceof VfioError && /outside the IOVA ranges/.test(e.message),
      );
      assert.deepEqual(c.domain.iovaRanges, ranges, "a refused device changes nothing");
    } finally {
      await c.close();
      a.fake.dispose();
      narrow.fake.dispose();
    }
  });
});
