import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "../../src/protocol/constants.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import { bytes, throwsProtocol, u32, u64 } from "./bytes.js";

const DR = Command.VFIO_USER_DMA_READ;
const DW = Command.VFIO_USER_DMA_WRITE;
const qemu = { dmaRwLayout: "qemu" as const };
const data = Uint8Array.from([0xa, 0xb, 0xc]);

describe("DMA_READ / DMA_WRITE, spec layout (default)", () => {
  it("DMA_READ request: address 0, count u64 at 8", () => {
    const wire = bytes(u64(0x1000), u64(3));
    assert.deepEqual(decodeRequest(DR, wire), { address: 0x1000n, count: 3 });
    assert.deepEqual(encodeRequest(DR, { address: 0x1000n, count: 3 }), wire);
  });

  it("DMA_READ reply / DMA_WRITE request: address, count u64, data at 16", () => {
    const wire = bytes(u64(0x1000), u64(3), data);
    assert.deepEqual(decodeReply(DR, wire), { address: 0x1000n, data });
    assert.deepEqual(encodeReply(DR, { address: 0x1000n, data }), wire);
    assert.deepEqual(decodeRequest(DW, wire), { address: 0x1000n, data });
    assert.deepEqual(encodeRequest(DW, { address: 0x1000n, data }), wire);
  });

  it("DMA_WRITE reply: 16 bytes written; 12 (spec table), 16 and empty accepted", () => {
    assert.deepEqual(encodeReply(DW, { address: 0x1000n, count: 3 }), bytes(u64(0x1000), u64(3)));
    assert.deepEqual(decodeReply(DW, bytes(u64(0x1000), u64(3))), { address: 0x1000n, count: 3 });
    assert.deepEqual(decodeReply(DW, bytes(u64(0x1000), u32(3))), { address: 0x1000n, count: 3 });
    assert.deepEqual(decodeReply(DW, new Uint8Array(0)), {});
    assert.equal(encodeReply(DW, {}).byteLength, 0);
    throwsProtocol(() => decodeReply(DW, bytes(u64(0))), "EINVAL", /expected 0, 12 or 16/);
  });

  it("DMA_WRITE reply: the 12-byte form's count has the 16-byte form's bound (found by fuzzing)", () => {
    // 0xffffffff decoded from the u32 form, but the 16-byte re-encoding of it was rejected.
    throwsProtocol(() => decodeReply(DW, bytes(u64(0), u32(0xffffffff))), "EINVAL", /count/);
    const max = 0xffffffff - 32;
    assert.deepEqual(decodeReply(DW, bytes(u64(0), u32(max))), { address: 0n, count: max });
    assert.deepEqual(decodeReply(DW, encodeReply(DW, { address: 0n, count: max })), {
      address: 0n,
      count: max,
    });
  });

  it("count is bounded: message size, max_data_xfer_size, no wrap", () => {
    throwsProtocol(() => decodeRequest(DR, bytes(u64(0), u64(2n ** 40n))), "E2BIG", /count/);
    throwsProtocol(
      () => decodeRequest(DR, bytes(u64(0), u64(8192)), { maxDataXferSize: 4096 }),
      "E2BIG",
    );
    throwsProtocol(() => decodeRequest(DR, bytes(u64(2n ** 64n - 1n), u64(2))), "EINVAL", /wraps/);
    throwsProtocol(() => decodeRequest(DW, bytes(u64(0), u64(4), data)), "EINVAL", /expected 20/);
    throwsProtocol(
      () => decodeRequest(DW, bytes(u64(0), u64(3), data), { maxDataXferSize: 2 }),
      "E2BIG",
    );
  });
});

describe("DMA_READ / DMA_WRITE, QEMU layout (VFIOUserDMARW)", () => {
  it("DMA_READ request: address, count u32 at 8, 4 zero bytes (same bytes as spec for small counts)", () => {
    const wire = bytes(u64(0x2000), u32(3), u32(0));
    assert.deepEqual(encodeRequest(DR, { address: 0x2000n, count: 3 }, qemu), wire);
    assert.deepEqual(decodeRequest(DR, wire, qemu), { address: 0x2000n, count: 3 });
    assert.deepEqual(decodeRequest(DR, wire), { address: 0x2000n, count: 3 });
    throwsProtocol(
      () => decodeRequest(DR, bytes(u64(0), u32(3), u32(1)), qemu),
      "EINVAL",
      /32 bits/,
    );
  });

  it("data at 12, message padded by 4 bytes to sizeof(VFIOUserDMARW) + count", () => {
    const wire = bytes(u64(0x2000), u32(3), data, u32(0));
    assert.equal(wire.byteLength, 16 + data.byteLength);
    assert.deepEqual(decodeReply(DR, wire, qemu), { address: 0x2000n, data });
    assert.deepEqual(encodeReply(DR, { address: 0x2000n, data }, qemu), wire);
    assert.deepEqual(decodeRequest(DW, wire, qemu), { address: 0x2000n, data });
    assert.deepEqual(encodeRequest(DW, { address: 0x2000n, data }, qemu), wire);
    throwsProtocol(() => decodeReply(DR, wire.subarray(0, 15 + 3), qemu), "EINVAL", /expected 19/);
  });

  it("QEMU's header-only DMA_WRITE reply decodes in either layout", () => {
    assert.deepEqual(decodeReply(DW, new Uint8Array(0), qemu), {});
  });

  it("rejects an unknown layout name", () => {
    throwsProtocol(
      () => encodeRequest(DR, { address: 0n, count: 1 }, { dmaRwLayout: "x" as "spec" }),
      "EINVAL",
      /dmaRwLayout/,
    );
  });
});
