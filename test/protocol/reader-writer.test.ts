import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Reader } from "../../src/protocol/reader.js";
import { Writer } from "../../src/protocol/writer.js";
import { bytes, throwsProtocol, u16, u32, u64 } from "./bytes.js";

describe("Reader", () => {
  it("reads little-endian fields in order", () => {
    const r = new Reader(bytes([7], u16(0x1234), u32(0xdeadbeef), u64(0x0102030405060708n)), "t");
    assert.equal(r.u8("a"), 7);
    assert.equal(r.u16("b"), 0x1234);
    assert.equal(r.u32("c"), 0xdeadbeef);
    assert.equal(r.u64("d"), 0x0102030405060708n);
    assert.equal(r.remaining, 0);
    r.end();
  });

  it("names the field and offset when bytes run out", () => {
    const r = new Reader(bytes(u32(1), [1, 2]), "TEST msg");
    r.u32("first");
    throwsProtocol(() => r.u32("second"), "EINVAL", /TEST msg: second at offset 4 needs 4 bytes/);
    throwsProtocol(() => r.u64("big"), "EINVAL", /big/);
    throwsProtocol(() => r.bytes(3, "blob"), "EINVAL", /blob/);
    throwsProtocol(() => r.bytes(-1, "neg"), "EINVAL", /neg/);
    throwsProtocol(() => r.bytes(2 ** 60, "huge"), "EINVAL", /huge/);
    assert.equal(r.u16("last"), 0x0201);
  });

  it("u64Number bounds the value with the requested errno", () => {
    const r = new Reader(bytes(u64(2n ** 63n), u64(5)), "t");
    throwsProtocol(
      () => r.u64Number("n", 100, "E2BIG"),
      "E2BIG",
      /n 9223372036854775808 exceeds 100/,
    );
    assert.equal(r.u64Number("m", 5), 5);
  });

  it("end() rejects trailing bytes and seek() stays inside the body", () => {
    const r = new Reader(bytes(u32(1), [9]), "t");
    r.u32("x");
    throwsProtocol(() => r.end(), "EINVAL", /1 unexpected trailing bytes/);
    throwsProtocol(() => r.seek(6, "cap"), "EINVAL", /cap 6 is outside/);
    r.seek(0, "start");
    assert.equal(r.u8("b"), 1);
  });

  it("bytes() returns a view, not a copy", () => {
    const buf = bytes([1, 2, 3, 4]);
    const v = new Reader(buf, "t").bytes(2, "x");
    buf[0] = 99;
    assert.equal(v[0], 99);
  });

  it("works on a subarray with a non-zero byteOffset", () => {
    const buf = bytes([0xaa, 0xbb], u32(0x11223344));
    const r = new Reader(buf.subarray(2), "t");
    assert.equal(r.u32("x"), 0x11223344);
  });
});

describe("Writer", () => {
  it("writes little-endian fields", () => {
    const w = Writer.alloc(15);
    w.u8(7, "a");
    w.u16(0x1234, "b");
    w.u32(0xdeadbeef, "c");
    w.u64(0x0102030405060708n, "d");
    assert.deepEqual(
      w.finish(),
      bytes([7], u16(0x1234), u32(0xdeadbeef), u64(0x0102030405060708n)),
    );
  });

  it("rejects out-of-range and wrongly typed values instead of wrapping", () => {
    const w = Writer.alloc(64);
    throwsProtocol(() => w.u8(256, "a"), "EINVAL", /a: 256/);
    throwsProtocol(() => w.u16(-1, "b"), "EINVAL", /b: -1/);
    throwsProtocol(() => w.u32(2 ** 32, "c"), "EINVAL", /c/);
    throwsProtocol(() => w.u32(1.5, "d"), "EINVAL", /d/);
    throwsProtocol(() => w.u64(-1n, "e"), "EINVAL", /e/);
    throwsProtocol(() => w.u64(1n << 64n, "f"), "EINVAL", /f/);
    throwsProtocol(() => w.u64(5 as unknown as bigint, "g"), "EINVAL", /g/);
    throwsProtocol(() => w.bytes("x" as unknown as Uint8Array, "h"), "EINVAL", /h/);
    assert.equal(w.offset, 0);
  });

  it("refuses to overflow its buffer and to finish short", () => {
    const w = Writer.alloc(4);
    throwsProtocol(() => w.u64(1n, "x"), "EINVAL", /overflows the 4-byte body/);
    w.u16(1, "y");
    throwsProtocol(() => w.finish(), "EINVAL", /wrote 2 of 4/);
  });
});
