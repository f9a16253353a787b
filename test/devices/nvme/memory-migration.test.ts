/**
 * A memory namespace's blocks moving by pre-copy: rounds send what was allocated, then
 * what was written after it was sent; the stop-copy remainder ends with a count the
 * destination checks; a destination of another size, a chunk cut short, or a stream
 * with entries missing is refused with a clear error. A fast-check property: any
 * interleaving of writes, zeroing and rounds arrives identical.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MemoryBacking } from "../../../src/devices/nvme/backing.js";
import { MemoryMigration, MIGRATION_UNIT } from "../../../src/devices/nvme/memory-migration.js";

const SIZE = 4 << 20;

/** Reads until an empty chunk: one pre-copy round. */
function round(m: MemoryMigration, max = 256 * 1024): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let c = m.read(max); c.byteLength > 0; c = m.read(max)) out.push(c);
  return out;
}

function rest(m: MemoryMigration, max = 256 * 1024): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let c = m.remainder(max); c.byteLength > 0; c = m.remainder(max)) out.push(c);
  return out;
}

async function deliver(chunks: Uint8Array[], to: MemoryMigration): Promise<void> {
  for (const c of chunks) await to.load(c);
}

function fill(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff || 1);
}

describe("NVMe memory namespace migration", () => {
  it("sends allocated units, then only those written after they were sent", async () => {
    const src = new MemoryBacking(SIZE);
    await src.write(0, fill(8192, 1));
    await src.write(3 << 20, fill(4096, 2));
    const m = new MemoryMigration(src, 512);
    m.begin();
    const first = round(m);
    // Two allocated 1 MiB chunks: 32 units (most of them zero, sent as 5-byte entries).
    const bytes = first.reduce((n, c) => n + c.byteLength, 0);
    assert.ok(bytes >= 2 * MIGRATION_UNIT && bytes < 3 * MIGRATION_UNIT, `${bytes} bytes`);
    assert.equal(m.dirtyUnits, 0);
    await src.write(MIGRATION_UNIT * 5 + 100, fill(512, 3));
    assert.equal(m.dirtyUnits, 1);
    const second = round(m);
    assert.equal(
      second.reduce((n, c) => n + c.byteLength, 0),
      5 + MIGRATION_UNIT,
    );
    await src.zero(0, MIGRATION_UNIT);
    const final = rest(m);
    assert.equal(rest(m).length, 0, "the remainder ends");

    const dst = new MemoryBacking(SIZE);
    const d = new MemoryMigration(dst, 512);
    await deliver([...first, ...second, ...final], d);
    assert.ok(d.complete);
    assert.deepEqual(dst.readSync(0, SIZE), src.readSync(0, SIZE));
  });

  it("without pre-copy, the remainder carries everything", async () => {
    const src = new MemoryBacking(SIZE);
    await src.write(12345, fill(70000, 4));
    const m = new MemoryMigration(src, 4096);
    m.begin();
    const dst = new MemoryBacking(SIZE);
    const d = new MemoryMigration(dst, 4096);
    await deliver(rest(m), d);
    assert.ok(d.complete);
    assert.deepEqual(dst.readSync(0, SIZE), src.readSync(0, SIZE));
  });

  it("refuses a destination of another size or block size", async () => {
    const m = new MemoryMigration(new MemoryBacking(SIZE), 512);
    m.begin();
    const chunks = rest(m);
    await assert.rejects(new MemoryMigration(new MemoryBacking(SIZE * 2), 512).load(chunks[0]!), {
      code: "EINVAL",
      message: /source's namespace is 4194304 bytes in 512-byte blocks, this one 8388608 bytes/,
    });
    await assert.rejects(new MemoryMigration(new MemoryBacking(SIZE), 4096).load(chunks[0]!), {
      code: "EINVAL",
      message: /not the same size/,
    });
  });

  it("refuses entries missing, cut short, unknown or before the header", async () => {
    const src = new MemoryBacking(SIZE);
    await src.write(0, fill(4096, 5));
    await src.write(2 << 20, fill(4096, 6));
    const m = new MemoryMigration(src, 512);
    m.begin();
    const chunks = rest(m, 1);
    assert.ok(chunks.length > 2);
    const fresh = () => new MemoryMigration(new MemoryBacking(SIZE), 512);
    await assert.rejects(fresh().load(chunks[1]!), {
      code: "EINVAL",
      message: /before the session's header/,
    });
    // A chunk dropped: the END count does not match.
    const missing = fresh();
    await assert.rejects(deliver([chunks[0]!, ...chunks.slice(2)], missing), {
      code: "EINVAL",
      message: /of the \d+ units the source sent arrived/,
    });
    assert.equal(missing.complete, false);
    const cut = fresh();
    await cut.load(chunks[0]!.subarray(0, 13));
    await assert.rejects(cut.load(chunks[1]!.subarray(0, 100)), {
      code: "EINVAL",
      message: /data entry cut short/,
    });
    const unknown = fresh();
    await unknown.load(chunks[0]!.subarray(0, 13));
    await assert.rejects(unknown.load(Uint8Array.of(9)), {
      code: "EINVAL",
      message: /unknown entry type 9/,
    });
    const beyond = fresh();
    await beyond.load(chunks[0]!.subarray(0, 13));
    await assert.rejects(beyond.load(Uint8Array.of(3, 0xff, 0xff, 0, 0)), {
      code: "EINVAL",
      message: /unit 65535 beyond the namespace's 64 units/,
    });
  });

  it("any interleaving of writes, zeroing and rounds arrives identical", async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("write" as const),
        at: fc.integer({ min: 0, max: SIZE - 1 }),
        len: fc.integer({ min: 1, max: 200_000 }),
        seed: fc.nat(255),
      }),
      fc.record({
        kind: fc.constant("zero" as const),
        at: fc.integer({ min: 0, max: SIZE - 1 }),
        len: fc.integer({ min: 1, max: 3 << 20 }),
      }),
      fc.record({ kind: fc.constant("round" as const), max: fc.integer({ min: 1, max: 1 << 20 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 12 }),
        fc.array(op, { maxLength: 12 }),
        async (before, during) => {
          const src = new MemoryBacking(SIZE);
          const apply = async (
            o: (typeof before)[number],
            m?: MemoryMigration,
            out?: Uint8Array[],
          ) => {
            if (o.kind === "round") {
              if (m && out) out.push(...round(m, o.max));
              return;
            }
            const len = Math.min(o.len, SIZE - o.at);
            if (o.kind === "write") await src.write(o.at, fill(len, o.seed));
            else await src.zero(o.at, len);
          };
          for (const o of before) await apply(o);
          const m = new MemoryMigration(src, 512);
          m.begin();
          const sent: Uint8Array[] = [];
          for (const o of during) await apply(o, m, sent);
          sent.push(...rest(m));
          const dst = new MemoryBacking(SIZE);
          const d = new MemoryMigration(dst, 512);
          await deliver(sent, d);
          assert.ok(d.complete);
          assert.deepEqual(dst.readSync(0, SIZE), src.readSync(0, SIZE));
        },
      ),
      { numRuns: 60 },
    );
  });
});
