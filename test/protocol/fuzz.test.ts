import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import type { DecodeContext, DmaRwLayout } from "../../src/protocol/codec.js";
import { Command, type CommandId, commandName, HEADER_SIZE } from "../../src/protocol/constants.js";
import {
  decodeMessage,
  encodeReplyMessage,
  encodeRequestMessage,
} from "../../src/protocol/message.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import { ProtocolError } from "../../src/protocol/protocol-error.js";
import { ALL_COMMANDS, generators } from "./arbitraries.js";

/**
 * Property (1): no input makes a decoder throw anything but ProtocolError. Inputs are
 * random bytes and mutations (bit flips, truncation, extension, edge values written over
 * size/count/argsz-like fields) of valid encodings, with random fd counts and options.
 */

const RANDOM_RUNS = 1000;
const MUTATION_RUNS = 2000;
let cases = 0;

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "extend"; extra: Uint8Array }
  | { kind: "u32"; at: number; value: number }
  | { kind: "u64"; at: number; value: bigint };

const EDGE32 = [
  0, 1, 7, 8, 15, 16, 17, 20, 24, 31, 32, 40, 48, 200, 201, 0x7fffffff, 0x80000000, 0xfffffff0,
  0xffffffff,
];
const EDGE64 = [
  0n,
  1n,
  8n,
  0x100000000n,
  0x7fffffffffffffffn,
  0xfffffffffffff000n,
  0xffffffffffffffffn,
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("extend" as const),
    extra: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant("u32" as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...EDGE32), fc.integer({ min: 0, max: 0xffffffff })),
  }),
  fc.record({ kind: fc.constant("u64" as const), at: fc.nat(), value: fc.constantFrom(...EDGE64) }),
);

function mutate(src: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Uint8Array.from(src);
  for (const m of ms) {
    const len = b.byteLength;
    switch (m.kind) {
      case "flip":
        if (len > 0) b[m.at % len] = (b[m.at % len] ?? 0) ^ (1 << m.bit);
        break;
      case "truncate":
        b = b.slice(0, len === 0 ? 0 : m.at % len);
        break;
      case "extend": {
        const n = new Uint8Array(len + m.extra.byteLength);
        n.set(b);
        n.set(m.extra, len);
        b = n;
        break;
      }
      case "u32":
        if (len >= 4)
          new DataView(b.buffer).setUint32(((m.at % (len - 3)) >> 2) << 2, m.value, true);
        break;
      case "u64":
        if (len >= 8)
          new DataView(b.buffer).setBigUint64(((m.at % (len - 7)) >> 3) << 3, m.value, true);
        break;
    }
  }
  return b;
}

const ctxArb: fc.Arbitrary<Partial<DecodeContext>> = fc.record(
  {
    numFds: fc.nat(5),
    maxDataXferSize: fc.constantFrom(0, 8, 4096, 1 << 20),
    dmaRwLayout: fc.constantFrom<DmaRwLayout>("spec", "qemu"),
  },
  { requiredKeys: ["numFds"] },
);

function onlyProtocolErrors(fn: () => unknown): void {
  cases++;
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProtocolError)) {
      assert.fail(`threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
    assert.ok(e.errno > 0, "ProtocolError without errno");
  }
}

type Dir = "request" | "reply";

function decoder(command: CommandId, dir: Dir) {
  return dir === "request"
    ? (b: Uint8Array, c: Partial<DecodeContext>) => decodeRequest(command, b, c)
    : (b: Uint8Array, c: Partial<DecodeContext>) => decodeReply(command, b, c);
}

function encoder(command: CommandId, dir: Dir) {
  return dir === "request"
    ? (v: unknown, layout: DmaRwLayout) =>
        encodeRequest(command, v as never, { dmaRwLayout: layout })
    : (v: unknown, layout: DmaRwLayout) =>
        encodeReply(command, v as never, { dmaRwLayout: layout });
}

describe("decoders throw only ProtocolError", () => {
  after(() => {
    assert.ok(cases >= 100_000, `only ${cases} fuzz cases ran`);
  });

  for (const command of ALL_COMMANDS) {
    for (const dir of ["request", "reply"] as const) {
      const decode = decoder(command, dir);
      const encode = encoder(command, dir);
      const gen = generators[command][dir] as fc.Arbitrary<unknown>;

      it(`${commandName(command)} ${dir}: random bytes`, () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 96 }), ctxArb, (b, ctx) => {
            onlyProtocolErrors(() => decode(b, ctx));
          }),
          { numRuns: RANDOM_RUNS },
        );
      });

      it(`${commandName(command)} ${dir}: mutated valid encodings`, () => {
        fc.assert(
          fc.property(
            gen,
            fc.constantFrom<DmaRwLayout>("spec", "qemu"),
            fc.array(mutation, { minLength: 1, maxLength: 3 }),
            ctxArb,
            (v, layout, ms, ctx) => {
              const wire = mutate(encode(v, layout), ms);
              onlyProtocolErrors(() => decode(wire, { ...ctx, dmaRwLayout: layout }));
            },
          ),
          { numRuns: MUTATION_RUNS },
        );
      });
    }
  }

  it("decodeMessage: random frames and mutated whole messages", () => {
    const frames = fc
      .tuple(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom(0, 1, 0x10, 0x21, 0x31, 2, 0xffffffff),
        fc.uint8Array({ maxLength: 64 }),
      )
      .map(([id, command, flags, body]) => {
        const b = new Uint8Array(HEADER_SIZE + body.byteLength);
        const dv = new DataView(b.buffer);
        dv.setUint16(0, id, true);
        dv.setUint16(2, command, true);
        dv.setUint32(4, b.byteLength, true);
        dv.setUint32(8, flags, true);
        b.set(body, HEADER_SIZE);
        return b;
      });
    fc.assert(
      fc.property(frames, fc.nat(3), (b, fds) => onlyProtocolErrors(() => decodeMessage(b, fds))),
      { numRuns: 3000 },
    );
    const whole = fc
      .constantFrom(...ALL_COMMANDS)
      .chain((command) =>
        fc
          .boolean()
          .chain((asReq) =>
            fc.tuple(
              fc.constant(command),
              fc.constant(asReq),
              (asReq
                ? generators[command].request
                : generators[command].reply) as fc.Arbitrary<unknown>,
            ),
          ),
      );
    fc.assert(
      fc.property(
        whole,
        fc.array(mutation, { minLength: 1, maxLength: 2 }),
        fc.nat(3),
        ([command, asReq, v], ms, fds) => {
          const wire = asReq
            ? encodeRequestMessage(1, command, v as never)
            : encodeReplyMessage(1, command, v as never);
          onlyProtocolErrors(() => decodeMessage(mutate(wire, ms), fds));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("the Command table is what the fuzzer covered", () => {
    assert.equal(ALL_COMMANDS.length, Object.keys(Command).length);
  });
});
