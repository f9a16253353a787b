import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeHeader, peekMessageSize, writeHeader } from "../../src/protocol/header.js";
import { ProtocolError } from "../../src/protocol/protocol-error.js";

function header(size: number, flags: number): Uint8Array {
  const b = new Uint8Array(16);
  writeHeader(b, 7, 4, size, flags, 0);
  return b;
}

function rejects(b: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeHeader(b),
    (e: unknown) => e instanceof ProtocolError && e.code === "EPROTO" && pattern.test(e.message),
  );
}

describe("the message header codec (protocol/header.ts)", () => {
  it("writeHeader and decodeHeader are inverse for every valid header, at any offset", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 16, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }).map((f) => ((f & ~0xf) | (f & 1)) >>> 0),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.nat(8),
        (id, command, size, flags, error, at) => {
          const b = new Uint8Array(at + 16);
          writeHeader(b.subarray(at), id, command, size, flags, error);
          assert.deepEqual(decodeHeader(b, at), { id, command, size, flags, error });
          assert.equal(peekMessageSize(b, at), size);
        },
      ),
    );
  });

  it("has one errno per fault: EPROTO for a short buffer, a size under 16 and a bad type", () => {
    rejects(new Uint8Array(15), /shorter than the 16-byte header/);
    rejects(header(15, 0), /less than the 16-byte header/);
    rejects(header(16, 2), /type 2, neither command nor reply/);
    assert.equal(decodeHeader(header(16, 1)).size, 16);
  });
});
