import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VfioError } from "../../src/errors.js";
import {
  type DmaPerms,
  IommuDomain,
  IommuFaultError,
  U64_MAX,
  whenAllIdle,
} from "../../src/iommu/index.js";

const RW: DmaPerms = { read: true, write: true };
const RO: DmaPerms = { read: true, write: false };
const WO: DmaPerms = { read: false, write: true };
const K4 = 0x1000n;

function dom(opts: Partial<ConstructorParameters<typeof IommuDomain>[0]> = {}) {
  return new IommuDomain<string>({ memlockLimit: "infinity", ...opts } as never);
}

function fails(fn: () => unknown, code: string, msg?: RegExp): VfioError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VfioError, `expected VfioError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("IommuDomain translate (IOMMU check)", () => {
  function setup() {
    const d = dom();
    d.map(0x10000n, 0x1000n, RW, "a");
    d.map(0x11000n, 0x1000n, RO, "b");
    d.map(0x12000n, 0x1000n, RW, "c");
    d.map(0x14000n, 0x1000n, WO, "d");
    return d;
  }

  it("returns one segment for an access inside one window", () => {
    const d = setup();
    const segs = d.translate(0x10010n, 0x20n, "write");
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.window.value, "a");
    assert.equal(segs[0]!.offset, 0x10n);
    assert.equal(segs[0]!.length, 0x20n);
    assert.equal(segs[0]!.iova, 0x10010n);
  });

  it("spans adjacent windows", () => {
    const d = setup();
    const segs = d.translate(0x10ff0n, 0x1020n, "read");
    assert.deepEqual(
      segs.map((s) => [s.window.value, s.iova, s.offset, s.length]),
      [
        ["a", 0x10ff0n, 0xff0n, 0x10n],
        ["b", 0x11000n, 0n, 0x1000n],
        ["c", 0x12000n, 0n, 0x10n],
      ],
    );
  });

  const faults: [string, bigint, bigint, "read" | "write", bigint, string][] = [
    ["unmapped start", 0xf000n, 0x10n, "read", 0xf000n, "unmapped"],
    ["gap between windows", 0x12ff0n, 0x20n, "read", 0x13000n, "unmapped"],
    ["runs off the last window", 0x14ff0n, 0x20n, "write", 0x15000n, "unmapped"],
    ["write to read-only", 0x10ff0n, 0x20n, "write", 0x11000n, "permission"],
    ["read of write-only", 0x14000n, 4n, "read", 0x14000n, "permission"],
    ["beyond 2^64", U64_MAX, 2n, "read", U64_MAX, "unmapped"],
  ];
  for (const [name, iova, length, access, at, reason] of faults) {
    it(`EFAULT: ${name}`, () => {
      const d = setup();
      const before = d.faults;
      const e = fails(() => d.translate(iova, length, access), "EFAULT");
      assert.ok(e instanceof IommuFaultError);
      assert.equal(e.faultAddress, at);
      assert.equal(e.reason, reason);
      assert.equal(e.iova, iova);
      assert.equal(e.length, length);
      assert.equal(e.access, access);
      assert.match(
        e.message,
        new RegExp(`${access} of 0x${length.toString(16)} bytes at iova 0x${iova.toString(16)}`),
      );
      assert.equal(d.faults, before + 1);
      assert.deepEqual(d.lastFault, { iova, length, access, faultAddress: at });
    });
  }

  it("EINVAL for a zero length or bad iova, not counted as a fault", () => {
    const d = setup();
    fails(() => d.translate(0x10000n, 0n, "read"), "EINVAL");
    fails(() => d.translate(-1n, 1n, "read"), "EINVAL");
    assert.equal(d.faults, 0);
  });

  it("an unmapped window faults afterwards", () => {
    const d = setup();
    d.translate(0x10000n, 4n, "read");
    d.unmap(0x10000n, K4);
    fails(() => d.translate(0x10000n, 4n, "read"), "EFAULT");
    assert.equal(d.faults, 1);
  });
});

describe("IommuDomain in-flight accesses", () => {
  it("unmap removes at once; whenIdle resolves only after the access is released", async () => {
    const d = dom();
    d.map(0x10000n, K4, RW, "a");
    d.map(0x11000n, K4, RW, "b");
    const access = d.acquire(0x10ff0n, 0x20n, "write");
    assert.equal(access.segments.length, 2);
    const [wa, wb] = access.segments.map((s) => s.window);
    assert.equal(wa!.pins, 1);
    assert.equal(wb!.pins, 1);

    const r = d.unmap(0x10000n, 0x2000n);
    assert.equal(d.count, 0);
    fails(() => d.translate(0x10000n, 1n, "read"), "EFAULT");
    let drained = false;
    const done = whenAllIdle(r.windows).then(() => {
      drained = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drained, false, "must wait for the in-flight access");
    access.release();
    access.release(); // idempotent
    await done;
    assert.equal(drained, true);
    assert.equal(wa!.pins, 0);
  });

  it("whenIdle is immediate when nothing is in flight; pin after unmap is refused", async () => {
    const d = dom();
    const w = d.map(0n, K4, RW, "a");
    await w.whenIdle();
    w.pin();
    w.unpin();
    fails(() => w.unpin(), "EINVAL", /not pinned/);
    d.unmap(0n, K4);
    fails(() => w.pin(), "EFAULT", /no longer mapped/);
  });

  it("acquire faults without pinning anything", () => {
    const d = dom();
    const w = d.map(0n, K4, RO, "a");
    fails(() => d.acquire(0n, 4n, "write"), "EFAULT");
    assert.equal(w.pins, 0);
  });
});
