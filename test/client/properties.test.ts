/** Property tests: reply validation, the in-memory stream pair, container fan-out. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { DeviceBackend, DmaMapRequest, RegionInfo } from "../../src/client/backend.js";
import { Container } from "../../src/client/container.js";
import { checkRegionInfo, MAX_REGION_SIZE } from "../../src/client/info-checks.js";
import { IommuOwner } from "../../src/client/iommu-owner.js";
import { memorySocketPair } from "../../src/client/memory-socket.js";
import { VfioError } from "../../src/errors.js";
import { PasidAllocator } from "../../src/iommu/index.js";
import { EventFd } from "../../src/sys/index.js";
import { openFdCount } from "../helpers/fds.js";

describe("checkRegionInfo (untrusted input)", () => {
  const big = fc.bigInt({ min: 0n, max: 1n << 64n });
  const area = fc.record({ offset: big, size: big });
  const info = fc.record({
    index: fc.integer({ min: 0, max: 12 }),
    flags: fc.nat(),
    size: big,
    offset: fc.oneof(fc.constant(0n), big),
    mmapAreas: fc.array(area, { maxLength: 6 }),
    caps: fc.constant([]),
    fd: fc.constantFrom(-1, 1000),
  });

  it("accepts only self-consistent infos and fails everything else with EPROTO", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), info, fc.boolean(), (asked, i, pci) => {
        let ok: RegionInfo;
        try {
          ok = checkRegionInfo(asked, i as RegionInfo, pci);
        } catch (e) {
          assert.ok(e instanceof VfioError, String(e));
          assert.equal(e.code, "EPROTO");
          return;
        }
        assert.equal(ok.index, asked);
        assert.ok(ok.size <= MAX_REGION_SIZE);
        let end = 0n;
        for (const a of ok.mmapAreas) {
          assert.ok(a.size > 0n && a.offset >= end && a.offset + a.size <= ok.size);
          assert.equal((ok.offset + a.offset) % 4096n, 0n);
          end = a.offset + a.size;
        }
        if (ok.mmapAreas.length > 0) assert.ok(ok.fd >= 0);
      }),
      { numRuns: 500 },
    );
  });
});

describe("memorySocketPair", () => {
  it("delivers the byte stream intact under any chunking, fds with their segment, nothing leaked", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ len: fc.integer({ min: 1, max: 300 }), fds: fc.integer({ min: 0, max: 2 }) }),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 8 }),
        async (sends, recvSizes) => {
          const fdsBefore = openFdCount();
          const [a, b] = memorySocketPair();
          const efd = EventFd.create();
          const expected: number[] = [];
          const fdOffsets: number[] = [];
          let pos = 0;
          for (const s of sends) {
            const chunk = new Uint8Array(s.len).map((_, i) => (pos + i) & 0xff);
            expected.push(...chunk);
            for (let i = 0; i < s.fds; i++) fdOffsets.push(pos);
            assert.equal(a.send([chunk], new Array(s.fds).fill(efd.fd)), s.len);
            pos += s.len;
          }
          a.close();
          const got: number[] = [];
          const gotFdOffsets: number[] = [];
          for (let i = 0; ; i++) {
            const buf = new Uint8Array(recvSizes[i % recvSizes.length]!);
            const r = b.recv(buf, 8);
            assert.ok(r !== null, "data or EOF is always there once the peer closed");
            if (r.bytes === 0) break;
            for (const fd of r.fds) {
              gotFdOffsets.push(got.length);
              new EventFd(fd).close();
            }
            got.push(...buf.subarray(0, r.bytes));
          }
          b.close();
          efd.close();
          assert.deepEqual(got, expected);
          assert.deepEqual(gotFdOffsets, fdOffsets);
          assert.equal(openFdCount(), fdsBefore);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("readable callbacks keep coming while data is unread, and EOF follows the peer's close", async () => {
    const [a, b] = memorySocketPair();
    a.send([new Uint8Array(10)]);
    let calls = 0;
    const read: number[] = [];
    await new Promise<void>((resolve) => {
      b.onReadable(() => {
        calls++;
        const r = b.recv(new Uint8Array(4), 0);
        if (r === null) return;
        read.push(r.bytes);
        if (r.bytes === 0) {
          b.onReadable(null);
          resolve();
        } else if (read.length === 3) {
          a.close();
        }
      });
    });
    assert.deepEqual(read, [4, 4, 2, 0]);
    assert.equal(calls, 4);
    assert.throws(
      () => a.send([new Uint8Array(1)]),
      (e: unknown) => e instanceof VfioError && e.code === "EBADF",
    );
    b.close();
  });
});

/** A DeviceBackend that only records DMA maps; everything else is unused here. */
function recorder(): DeviceBackend & { live: Map<bigint, DmaMapRequest> } {
  const live = new Map<bigint, DmaMapRequest>();
  const unused = () => Promise.reject(new Error("unused"));
  return {
    kind: "recorder",
    limits: { maxDataXferSize: 1 << 20, maxMsgFds: 8, maxDmaMaps: 1000, pgsizes: 4096n },
    live,
    getInfo: unused,
    getRegionInfo: unused,
    regionRead: unused,
    regionWrite: unused,
    getIrqInfo: unused,
    setIrqs: unused,
    reset: unused,
    async dmaMap(req) {
      assert.ok(!live.has(req.iova), "a device never gets an overlapping map");
      live.set(req.iova, req);
    },
    async dmaUnmap(iova, size) {
      assert.equal(live.get(iova)?.size, size, "unmaps name an exact earlier mapping");
      live.delete(iova);
    },
    setDmaHandler() {},
    onDisconnect() {},
    async close() {},
  };
}

describe("Container fan-out", () => {
  it("every attached device always holds exactly the container's mappings", async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("map" as const),
        page: fc.nat(31),
        pages: fc.integer({ min: 1, max: 4 }),
      }),
      fc.record({
        kind: fc.constant("unmap" as const),
        page: fc.nat(31),
        pages: fc.integer({ min: 1, max: 8 }),
      }),
      fc.record({ kind: fc.constant("attach" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const c = new Container({
          owner: new IommuOwner({ memlockLimit: "infinity", pasids: new PasidAllocator() }),
        });
        const devices = [recorder()];
        await c.attach({ backend: devices[0]!, name: "d0" });
        for (const o of ops) {
          if (o.kind === "attach") {
            const d = recorder();
            devices.push(d);
            await c.attach({ backend: d, name: `d${devices.length}` });
            continue;
          }
          const iova = BigInt(o.page) * 4096n;
          const size = BigInt(o.pages) * 4096n;
          try {
            if (o.kind === "map") await c.mapMemory(iova, new Uint8Array(Number(size)));
            else await c.unmap(iova, size);
          } catch (e) {
            assert.ok(e instanceof VfioError && ["EEXIST", "EINVAL"].includes(e.code), String(e));
          }
          const want = Array.from(c.domain.windows(), (w) => `${w.iova}+${w.size}`);
          for (const d of devices) {
            const have = Array.from(d.live.values(), (r) => `${r.iova}+${r.size}`).sort();
            assert.deepEqual(have, [...want].sort());
          }
        }
        await c.close();
        for (const d of devices) assert.equal(d.live.size, 0);
      }),
      { numRuns: 100 },
    );
  });
});
