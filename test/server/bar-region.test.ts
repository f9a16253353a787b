import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { VfioError } from "../../src/errors.js";
import { createDevice } from "../../src/server/index.js";
import { BarRegion, type MsixPart } from "../../src/server/regions/bar-region.js";
import { callRead, callWrite, readResultBytes } from "../../src/server/regions/handler-call.js";
import { mmapAreas } from "../../src/server/regions/mmap-areas.js";
import { SharedMemory } from "../../src/server/regions/shared-memory.js";

const ENABLED = { command: 0x3, d3hot: false };
/** The context handlers receive; these handlers do not use it. */
const DEV = createDevice({ vendorId: 0x1b36, deviceId: 0x0001, classCode: 0xff0000 });
const DISABLED = { command: 0x0, d3hot: false };

function msixPart(log: string[]): MsixPart {
  return {
    table: { offset: 0x2000, size: 0x80 },
    pba: { offset: 0x3000, size: 8 },
    readTable: (o, n) => {
      log.push(`table read ${o}+${n}`);
      return new Uint8Array(n).fill(0x11);
    },
    writeTable: (o, d) => {
      log.push(`table write ${o}+${d.byteLength}`);
    },
    readPba: (o, n) => {
      log.push(`pba read ${o}+${n}`);
      return new Uint8Array(n).fill(0x22);
    },
  };
}

describe("BarRegion", () => {
  const memories: SharedMemory[] = [];
  after(() => {
    for (const m of memories) m.close();
  });

  function bar(opts: {
    memory?: boolean;
    sparse?: { offset: number; size: number }[];
    handlers?: boolean;
  }) {
    const log: string[] = [];
    let state = ENABLED;
    const memory = opts.memory ? new SharedMemory("test-bar", 0x4000) : undefined;
    if (memory) memories.push(memory);
    const r = new BarRegion({
      index: 2,
      size: 0x4000,
      space: "memory",
      device: DEV,
      decode: () => state,
      memory,
      sparse: opts.sparse,
      msix: msixPart(log),
      handlers:
        opts.handlers === false
          ? {}
          : {
              read: (o, n) => {
                log.push(`handler read ${o}+${n}`);
                return new Uint8Array(n).fill(0x33);
              },
              write: (o, d) => {
                log.push(`handler write ${o}+${d.byteLength}`);
              },
            },
    });
    return { r, log, memory, setDecode: (s: typeof ENABLED) => (state = s) };
  }

  it("splits an access along the MSI-X structures", async () => {
    const { r, log } = bar({});
    const data = await r.read(0x1ff0, 0x20);
    assert.deepEqual(log, ["handler read 8176+16", "table read 0+16"]);
    assert.deepEqual([...data], [...new Array(16).fill(0x33), ...new Array(16).fill(0x11)]);
    log.length = 0;
    await r.write(0x2ffc, new Uint8Array(12));
    assert.deepEqual(log, ["handler write 12284+4"], "PBA writes are dropped");
  });

  it("blocks everything but the MSI-X structures while decode is off, before any part runs", async () => {
    const { r, log, setDecode } = bar({});
    setDecode(DISABLED);
    assert.throws(() => r.read(0x1ffc, 8), { code: "EIO" });
    assert.throws(() => r.write(0x100, new Uint8Array(4)), { code: "EIO" });
    assert.deepEqual(log, [], "no handler and no table access ran");
    await r.read(0x2000, 16);
    await r.read(0x3000, 8);
    await r.write(0x200c, new Uint8Array(4));
    assert.deepEqual(log, ["table read 0+16", "pba read 0+8", "table write 12+4"]);
  });

  it("serves mmap areas from memory and the rest from handlers", async () => {
    const { r, log, memory } = bar({ memory: true, sparse: [{ offset: 0x1000, size: 0x1000 }] });
    memory!.bytes.fill(0x44, 0x1000, 0x2000);
    const data = await r.read(0xffe, 4);
    assert.deepEqual([...data], [0x33, 0x33, 0x44, 0x44]);
    assert.deepEqual(log, ["handler read 4094+2"]);
    await r.write(0x1800, new Uint8Array([1, 2]));
    assert.deepEqual([...memory!.bytes.subarray(0x1800, 0x1802)], [1, 2]);
  });

  it("serves a memory-backed BAR without handlers entirely from memory", async () => {
    const { r, log, memory } = bar({ memory: true, handlers: false });
    await r.write(0x10, new Uint8Array([7, 8, 9]));
    assert.deepEqual([...memory!.bytes.subarray(0x10, 0x13)], [7, 8, 9]);
    assert.deepEqual([...(await r.read(0x10, 3))], [7, 8, 9]);
    assert.deepEqual(log, []);
  });

  it("rejects accesses outside the BAR", async () => {
    const { r } = bar({});
    assert.throws(() => r.read(0x3ffe, 4), { code: "EINVAL" });
    assert.throws(() => r.read(0, 0), { code: "EINVAL" });
  });

  it("answers synchronously while the handlers do, with a promise only for async ones", async () => {
    const { r, log } = bar({});
    const data = r.read(0x10, 4);
    assert.ok(data instanceof Uint8Array, "a synchronous handler's read is not deferred");
    assert.deepEqual([...data], [0x33, 0x33, 0x33, 0x33]);
    assert.equal(r.write(0x10, new Uint8Array(4)), undefined);
    assert.deepEqual(log, ["handler read 16+4", "handler write 16+4"]);

    let release!: () => void;
    const gate = new Promise<void>((res) => {
      release = res;
    });
    const slow = new BarRegion({
      index: 0,
      size: 0x1000,
      space: "memory",
      device: DEV,
      decode: () => ENABLED,
      handlers: {
        read: async () => {
          await gate;
          return 0x01020304;
        },
        write: () => Promise.reject(new Error("late failure")),
      },
    });
    const pending = slow.read(0, 4);
    assert.ok(pending instanceof Promise);
    release();
    assert.deepEqual([...(await pending)], [4, 3, 2, 1]);
    const failed = slow.write(0, new Uint8Array(4));
    assert.ok(failed instanceof Promise);
    await assert.rejects(failed, (err: VfioError) => {
      assert.equal(err.name, "DeviceHandlerError");
      assert.equal(err.code, "EIO");
      return true;
    });
  });
});

describe("handler calls", () => {
  it("turn a synchronous throw into a synchronous DeviceHandlerError with the device's errno", () => {
    assert.throws(
      () =>
        callRead(
          {
            read: () => {
              throw new Error("boom");
            },
          },
          DEV,
          0,
          4,
          "x",
        ),
      { name: "DeviceHandlerError", code: "EIO" },
    );
    assert.throws(
      () =>
        callWrite(
          {
            write: () => {
              throw new VfioError("EPERM", "no");
            },
          },
          DEV,
          0,
          new Uint8Array(1),
          "x",
        ),
      { name: "DeviceHandlerError", code: "EPERM" },
    );
  });

  it("wait for thenables that are not native promises", async () => {
    // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a native promise, on purpose
    const thenable = { then: (ok: (v: number) => void) => ok(0xaabb) };
    const p = callRead({ read: () => thenable as unknown as Promise<number> }, DEV, 0, 2, "x");
    assert.ok(p instanceof Promise, "normalized to a native promise");
    assert.deepEqual([...(await p)], [0xbb, 0xaa]);
    assert.deepEqual(
      [...(callRead({}, DEV, 0, 3, "x") as Uint8Array)],
      [0, 0, 0],
      "no handler: zeros",
    );
    assert.equal(callWrite({}, DEV, 0, new Uint8Array(1), "x"), undefined, "no handler: dropped");
  });
});

describe("mmapAreas", () => {
  const msix = [
    { offset: 0x2000, size: 0x80 },
    { offset: 0x3000, size: 8 },
  ];
  it("offers the whole BAR, or the BAR minus the MSI-X pages", () => {
    assert.equal(mmapAreas("BAR0", 0x4000, true, []), undefined);
    assert.deepEqual(mmapAreas("BAR0", 0x8000, true, msix), [
      { offset: 0, size: 0x2000 },
      { offset: 0x4000, size: 0x4000 },
    ]);
  });
  it("validates explicit areas", () => {
    assert.deepEqual(mmapAreas("BAR0", 0x4000, [{ offset: 0x1000, size: 0x1000 }], msix), [
      { offset: 0x1000, size: 0x1000 },
    ]);
    const bad = [
      [{ offset: 0x800, size: 0x1000 }],
      [{ offset: 0, size: 0 }],
      [{ offset: 0x3000, size: 0x2000 }],
      [{ offset: 0x1000, size: 0x2000 }],
      [
        { offset: 0, size: 0x2000 },
        { offset: 0x1000, size: 0x1000 },
      ],
    ];
    for (const areas of bad) {
      assert.throws(
        () => mmapAreas("BAR0", 0x8000, areas, msix),
        { code: "EINVAL" },
        JSON.stringify(areas),
      );
    }
    assert.throws(() => mmapAreas("BAR0", 0x800, true, []), { code: "EINVAL" });
  });
});

describe("readResultBytes", () => {
  it("stores integers little-endian in the access size", () => {
    assert.deepEqual([...readResultBytes(0x1234, 2, "x")], [0x34, 0x12]);
    assert.deepEqual(
      [...readResultBytes(0x1122334455667788n, 8, "x")],
      [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
    );
    assert.deepEqual([...readResultBytes(-1, 4, "x")], [0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual([...readResultBytes(0x1ff, 1, "x")], [0xff], "truncated to the access");
  });
  it("stores a number as its bigint would be stored, for every access size", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: 8 }),
        (n, size) => {
          assert.deepEqual(readResultBytes(n, size, "x"), readResultBytes(BigInt(n), size, "x"));
        },
      ),
    );
  });
  it("rejects results that do not fit the access with EIO", () => {
    assert.throws(
      () => readResultBytes(new Uint8Array(2), 4, "x"),
      (e: VfioError) => e.code === "EIO",
    );
    assert.throws(() => readResultBytes(1, 16, "x"), { code: "EIO" });
    assert.throws(() => readResultBytes(1.5, 4, "x"), { code: "EIO" });
    assert.throws(() => readResultBytes("1" as unknown as number, 4, "x"), { code: "EIO" });
  });
});
