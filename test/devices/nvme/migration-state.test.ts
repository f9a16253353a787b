/**
 * The NVMe controller's migration state encoding: any valid state comes back equal
 * after encode and decode; a truncated state, trailing bytes, a corrupted one and
 * states that are inconsistent (an SQ on a missing CQ, pointers beyond their queue,
 * counts beyond their limits) fail with a VfioError EINVAL and nothing else.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type ControllerState,
  decodeControllerState,
  encodeControllerState,
  STATE_VERSION,
} from "../../../src/devices/nvme/migration-state.js";
import { VfioError } from "../../../src/errors.js";

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const page = fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((n) => n << 12n);

/** A queue ring: size 2..4096 with head and tail inside. */
const ring = fc.integer({ min: 2, max: 4096 }).chain((size) =>
  fc.record({
    size: fc.constant(size),
    head: fc.integer({ min: 0, max: size - 1 }),
    tail: fc.integer({ min: 0, max: size - 1 }),
  }),
);

/** Unique [key, value] pairs with keys up to `keyMax`. */
const pairs = (keyMax: number, max: number) =>
  fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: keyMax }), u32), {
    maxLength: max,
    selector: (p) => p[0],
  });

/** A valid state: admin queues plus I/O pairs, each SQ on its own CQ or on the admin-less I/O CQ. */
const stateArb: fc.Arbitrary<ControllerState> = fc
  .record({
    maxIoQueues: fc.integer({ min: 1, max: 64 }),
    enabled: fc.boolean(),
    ioIds: fc.uniqueArray(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }),
  })
  .chain(({ maxIoQueues, enabled, ioIds }) => {
    const ids = enabled ? [0, ...ioIds.filter((id) => id <= maxIoQueues)] : [];
    const cq = (id: number) =>
      fc.record({
        id: fc.constant(id),
        base: page,
        ring,
        vector: u16,
        ien: fc.boolean(),
        phase: fc.integer({ min: 0, max: 1 }),
        waiting: fc.array(
          fc.record({ sqid: fc.constant(id), cid: u16, result: u32, status: u16 }),
          { maxLength: 2 },
        ),
      });
    const sq = (id: number) => fc.record({ id: fc.constant(id), base: page, ring });
    return fc.record({
      maxIoQueues: fc.constant(maxIoQueues),
      mdts: fc.integer({ min: 0, max: 20 }),
      registers: fc.record({ cc: u32, csts: u32, aqa: u32, asq: u64, acq: u64, intms: u32 }),
      namespace: fc.record({
        backing: fc.constantFrom("memory" as const, "file" as const),
        size: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        blockSize: fc.constantFrom(512, 4096),
      }),
      cqs: fc.tuple(...ids.map(cq)),
      sqs: fc.tuple(...ids.map(sq)),
      features: fc.record({
        queues: fc
          .tuple(
            fc.integer({ min: 0, max: maxIoQueues - 1 }),
            fc.integer({ min: 0, max: maxIoQueues - 1 }),
          )
          .map(([s, c]) => s | (c << 16)),
        values: pairs(0xff, 8),
        temperature: pairs(0x3f, 4),
        vectorConfig: pairs(64, 4),
      }),
      aerCids: enabled ? fc.uniqueArray(u16, { maxLength: 4 }) : fc.constant([]),
      events: fc.array(u32, { maxLength: 16 }),
      errorCount: fc.bigInt({ min: 4n, max: (1n << 64n) - 1n }),
      errors: fc.array(
        fc.record({
          count: fc.bigInt({ min: 1n, max: 4n }),
          sqid: u16,
          cid: u16,
          status: u16,
          nsid: u32,
          lba: u64,
        }),
        { maxLength: 4 },
      ),
      health: fc.record({
        bytesRead: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        bytesWritten: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        readCommands: u64,
        writeCommands: u64,
        mediaErrors: u64,
      }),
    });
  })
  .map((s) => ({
    ...s,
    cqs: s.cqs.map(({ ring: r, ...q }) => ({ ...q, size: r.size, head: r.head, tail: r.tail })),
    sqs: s.sqs.map(({ ring: r, ...q }) => ({
      ...q,
      cqid: q.id,
      size: r.size,
      head: r.head,
      tail: r.tail,
    })),
  }))
  // A CQ holds back no more completions than its SQ has entries.
  .filter((s) => s.cqs.every((c) => c.waiting.length <= s.sqs.find((q) => q.id === c.id)!.size));

function rejects(bytes: Uint8Array, pattern?: RegExp): void {
  assert.throws(
    () => decodeControllerState(bytes),
    (err: unknown) => {
      assert.ok(err instanceof VfioError, `not a VfioError: ${err}`);
      assert.equal(err.code, "EINVAL");
      assert.match(err.message, /^NVMe migration state: /);
      if (pattern) assert.match(err.message, pattern);
      return true;
    },
  );
}

/** A small valid state to break on purpose. */
const base: ControllerState = {
  maxIoQueues: 4,
  mdts: 5,
  registers: { cc: 0x460001, csts: 1, aqa: 0x1f001f, asq: 0x10000n, acq: 0x11000n, intms: 0 },
  namespace: { backing: "memory", size: 1 << 20, blockSize: 512 },
  cqs: [
    {
      id: 0,
      base: 0x11000n,
      size: 32,
      vector: 0,
      ien: true,
      head: 3,
      tail: 3,
      phase: 1,
      waiting: [],
    },
    {
      id: 1,
      base: 0x21000n,
      size: 16,
      vector: 1,
      ien: true,
      head: 0,
      tail: 5,
      phase: 1,
      waiting: [],
    },
  ],
  sqs: [
    { id: 0, base: 0x10000n, size: 32, cqid: 0, head: 3, tail: 3 },
    { id: 1, base: 0x20000n, size: 16, cqid: 1, head: 5, tail: 7 },
  ],
  features: { queues: 0x30003, values: [[6, 1]], temperature: [], vectorConfig: [] },
  aerCids: [12],
  events: [],
  errorCount: 1n,
  errors: [{ count: 1n, sqid: 1, cid: 4, status: 0x4080, nsid: 1, lba: 99n }],
  health: {
    bytesRead: 4096,
    bytesWritten: 8192,
    readCommands: 1n,
    writeCommands: 2n,
    mediaErrors: 0n,
  },
};

describe("NVMe migration state encoding", () => {
  it("gives back any valid state after encode and decode", () => {
    fc.assert(
      fc.property(stateArb, (s) => {
        // structuredClone: plain objects, as the decoder makes (fast-check's have no prototype).
        assert.deepEqual(decodeControllerState(encodeControllerState(s)), structuredClone(s));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses every truncation of a valid state", () => {
    fc.assert(
      fc.property(stateArb, fc.nat(), (s, cut) => {
        const bytes = encodeControllerState(s);
        rejects(bytes.subarray(0, cut % bytes.byteLength), /truncated|magic/);
      }),
      { numRuns: 200 },
    );
  });

  it("answers corrupted bytes with a valid state or EINVAL, never another error", () => {
    fc.assert(
      fc.property(
        stateArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (s, flips) => {
          const bytes = encodeControllerState(s);
          for (const [at, x] of flips) bytes[at % bytes.byteLength]! ^= x;
          try {
            const got = decodeControllerState(bytes);
            // If it decodes, it is self-consistent: it encodes to the same bytes.
            assert.deepEqual(encodeControllerState(got), bytes);
          } catch (err) {
            assert.ok(err instanceof VfioError, `not a VfioError: ${err}`);
            assert.equal(err.code, "EINVAL");
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses trailing bytes, another magic and another version", () => {
    const good = encodeControllerState(base);
    assert.deepEqual(decodeControllerState(good), base);
    rejects(Uint8Array.of(...good, 0), /1 bytes after the end/);
    const magic = good.slice();
    magic[0] = magic[0]! ^ 0xff;
    rejects(magic, /bad magic/);
    const version = good.slice();
    new DataView(version.buffer).setUint16(4, STATE_VERSION + 1, true);
    rejects(
      version,
      new RegExp(`version ${STATE_VERSION + 1}, this controller reads ${STATE_VERSION}`),
    );
  });

  it("refuses inconsistent states with a message that says what", () => {
    const cases: [Partial<ControllerState>, RegExp][] = [
      [
        { sqs: [base.sqs[0]!, { ...base.sqs[1]!, cqid: 2 }] },
        /SQ 1 posts to CQ 2, which does not exist/,
      ],
      [{ sqs: [base.sqs[0]!, { ...base.sqs[1]!, tail: 16 }] }, /SQ 1: head 5 or tail 16 beyond 16/],
      [
        { cqs: [base.cqs[0]!, { ...base.cqs[1]!, size: 1, head: 0, tail: 0 }] },
        /CQ 1 has 1 entries/,
      ],
      [{ cqs: [base.cqs[0]!, { ...base.cqs[1]!, phase: 2 }] }, /phase 2 is not a bit/],
      [{ cqs: [base.cqs[0]!, { ...base.cqs[1]!, base: 0x21010n }] }, /not page aligned/],
      [{ cqs: [base.cqs[0]!, base.cqs[0]!] }, /CQ 0 twice/],
      [{ sqs: [base.sqs[1]!], cqs: [base.cqs[1]!] }, /admin|I\/O queues without/],
      [
        {
          cqs: [
            base.cqs[0]!,
            { ...base.cqs[1]!, waiting: [{ sqid: 0, cid: 1, result: 0, status: 0 }] },
          ],
        },
        /waiting on CQ 1 is for SQ 0/,
      ],
      [{ aerCids: [1, 1] }, /AER CID held twice/],
      [
        { aerCids: Array.from({ length: 17 }, (_, i) => i) },
        /17 asynchronous event requests, at most 16/,
      ],
      [{ errors: [{ ...base.errors[0]!, count: 5n }] }, /not among the 1 errors/],
      [{ features: { ...base.features, queues: 0x40000 } }, /Number of Queues/],
      [{ namespace: { ...base.namespace, blockSize: 1024 } }, /block size 1024/],
      [{ maxIoQueues: 65 }, /65 I\/O queues/],
    ];
    for (const [change, pattern] of cases) {
      rejects(encodeControllerState({ ...base, ...change }), pattern);
    }
  });

  it("refuses a huge count before allocating for it", () => {
    const bytes = encodeControllerState({ ...base, cqs: [], sqs: [], aerCids: [] });
    // The CQ count follows the fixed header: 4+2+2 +1+1 +4*3+8*2+4 +1+8+4 bytes.
    const at = 8 + 2 + 32 + 13;
    new DataView(bytes.buffer).setUint32(at, 0xffffffff, true);
    rejects(bytes, /4294967295 completion queues, at most 65/);
  });
});
