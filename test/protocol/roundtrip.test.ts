import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { DmaRwLayout } from "../../src/protocol/codec.js";
import { Command, commandName } from "../../src/protocol/constants.js";
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
import { ALL_COMMANDS, fdsFor, generators } from "./arbitraries.js";

const RUNS = 200;

describe("decode(encode(x)) deep-equals x", () => {
  for (const command of ALL_COMMANDS) {
    const layouts: DmaRwLayout[] =
      command === Command.VFIO_USER_DMA_READ || command === Command.VFIO_USER_DMA_WRITE
        ? ["spec", "qemu"]
        : ["spec"];
    for (const dmaRwLayout of layouts) {
      const o = { dmaRwLayout };
      const g = generators[command];
      it(`${commandName(command)} request (${dmaRwLayout})`, () => {
        fc.assert(
          fc.property(g.request, (v) => {
            const numFds = fdsFor(command, "request", v);
            const wire = encodeRequest(command, v as never, o);
            assert.deepEqual(decodeRequest(command, wire, { ...o, numFds }), v);
          }),
          { numRuns: RUNS },
        );
      });
      it(`${commandName(command)} reply (${dmaRwLayout})`, () => {
        fc.assert(
          fc.property(g.reply, (v) => {
            const numFds = fdsFor(command, "reply", v);
            const wire = encodeReply(command, v as never, o);
            assert.deepEqual(decodeReply(command, wire, { ...o, numFds }), v);
          }),
          { numRuns: RUNS },
        );
      });
    }
  }

  it("whole messages: header fields and body survive encodeMessage/decodeMessage", () => {
    const anyRequest = fc
      .constantFrom(...ALL_COMMANDS)
      .chain((command) =>
        fc.tuple(fc.constant(command), generators[command].request as fc.Arbitrary<unknown>),
      );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        anyRequest,
        fc.boolean(),
        (id, [command, v], noReply) => {
          const numFds = fdsFor(command, "request", v);
          const m = decodeMessage(
            encodeRequestMessage(id, command, v as never, { noReply }),
            numFds,
          );
          assert.equal(m.kind, "request");
          assert.equal(m.header.id, id);
          assert.equal(m.command, command);
          assert.equal((m.header.flags & 0x10) !== 0, noReply);
          assert.deepEqual(m.kind === "request" && m.body, v);
        },
      ),
      { numRuns: 500 },
    );
    const anyReply = fc
      .constantFrom(...ALL_COMMANDS)
      .chain((command) =>
        fc.tuple(fc.constant(command), generators[command].reply as fc.Arbitrary<unknown>),
      );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), anyReply, (id, [command, v]) => {
        const numFds = fdsFor(command, "reply", v);
        const m = decodeMessage(encodeReplyMessage(id, command, v as never), numFds);
        assert.equal(m.kind, "reply");
        assert.deepEqual(m.kind === "reply" && m.body, v);
      }),
      { numRuns: 500 },
    );
  });
});
