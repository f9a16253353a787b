import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command, VFIO_PCI_CONFIG_REGION_INDEX } from "../../src/protocol/constants.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import { bytes, throwsProtocol, u32, u64, zeros } from "./bytes.js";

const READ = Command.VFIO_USER_REGION_READ;
const WRITE = Command.VFIO_USER_REGION_WRITE;
const MULTI = Command.VFIO_USER_REGION_WRITE_MULTI;
const CFG = VFIO_PCI_CONFIG_REGION_INDEX;

describe("REGION_READ", () => {
  it("request: offset 0 (u64), region 8, count 12", () => {
    const wire = bytes(u64(0x40), u32(CFG), u32(4));
    const msg = { offset: 0x40n, region: CFG, count: 4 };
    assert.deepEqual(decodeRequest(READ, wire), msg);
    assert.deepEqual(encodeRequest(READ, msg), wire);
    throwsProtocol(() => decodeRequest(READ, bytes(wire, zeros(4))), "EINVAL", /expected 16/);
  });

  it("request count is checked against max_data_xfer_size (E2BIG)", () => {
    const wire = bytes(u64(0), u32(0), u32(4097));
    throwsProtocol(
      () => decodeRequest(READ, wire, { maxDataXferSize: 4096 }),
      "E2BIG",
      /max_data_xfer_size 4096/,
    );
    assert.equal(decodeRequest(READ, wire, { maxDataXferSize: 4097 }).count, 4097);
  });

  it("request offset + count must not wrap", () => {
    throwsProtocol(
      () => decodeRequest(READ, bytes(u64(2n ** 64n - 2n), u32(0), u32(4))),
      "EINVAL",
      /wraps/,
    );
  });

  it("reply: offset, region, count, data at 16", () => {
    const data = Uint8Array.from([0x86, 0x80, 0x10, 0x10]);
    const wire = bytes(u64(0), u32(CFG), u32(4), data);
    const msg = { offset: 0n, region: CFG, data };
    assert.deepEqual(decodeReply(READ, wire), msg);
    assert.deepEqual(encodeReply(READ, msg), wire);
    throwsProtocol(() => decodeReply(READ, wire.subarray(0, 19)), "EINVAL", /expected 20/);
    throwsProtocol(() => decodeReply(READ, bytes(wire, [0])), "EINVAL", /expected 20/);
  });
});

describe("REGION_WRITE", () => {
  it("request: offset, region, count, data at 16", () => {
    const data = Uint8Array.from([6, 0]);
    const wire = bytes(u64(4), u32(CFG), u32(2), data);
    const msg = { offset: 4n, region: CFG, data };
    assert.deepEqual(decodeRequest(WRITE, wire), msg);
    assert.deepEqual(encodeRequest(WRITE, msg), wire);
    throwsProtocol(
      () => decodeRequest(WRITE, bytes(u64(4), u32(CFG), u32(3), data)),
      "EINVAL",
      /expected 19/,
    );
    throwsProtocol(() => decodeRequest(WRITE, wire, { maxDataXferSize: 1 }), "E2BIG");
    throwsProtocol(() => decodeRequest(WRITE, wire, { numFds: 1 }), "EINVAL", /descriptor/);
  });

  it("reply: offset, region, count", () => {
    const wire = bytes(u64(4), u32(CFG), u32(2));
    assert.deepEqual(decodeReply(WRITE, wire), { offset: 4n, region: CFG, count: 2 });
    assert.deepEqual(encodeReply(WRITE, { offset: 4n, region: CFG, count: 2 }), wire);
  });
});

describe("REGION_WRITE_MULTI", () => {
  it("request: wr_cnt u64 then 24-byte entries (offset, region, count, data[8])", () => {
    const wire = bytes(
      u64(2),
      u64(0x10),
      u32(0),
      u32(4),
      [1, 2, 3, 4, 0, 0, 0, 0],
      u64(0x18),
      u32(1),
      u32(8),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    const msg = {
      writes: [
        { offset: 0x10n, region: 0, data: Uint8Array.from([1, 2, 3, 4]) },
        { offset: 0x18n, region: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
      ],
    };
    assert.deepEqual(decodeRequest(MULTI, wire), msg);
    assert.deepEqual(encodeRequest(MULTI, msg), wire);
  });

  it("bounds wr_cnt by VFIO_USER_MULTI_MAX and the body, count by 8", () => {
    throwsProtocol(() => decodeRequest(MULTI, bytes(u64(201))), "EINVAL", /wr_cnt 201 exceeds 200/);
    throwsProtocol(() => decodeRequest(MULTI, bytes(u64(2n ** 63n))), "EINVAL", /wr_cnt/);
    throwsProtocol(() => decodeRequest(MULTI, bytes(u64(1))), "EINVAL", /expected 32/);
    throwsProtocol(
      () => decodeRequest(MULTI, bytes(u64(1), u64(0), u32(0), u32(9), zeros(8))),
      "EINVAL",
      /count 9/,
    );
    assert.deepEqual(decodeRequest(MULTI, bytes(u64(0))), { writes: [] });
  });

  it("reply: wr_cnt u64", () => {
    assert.deepEqual(decodeReply(MULTI, bytes(u64(7))), { wrCnt: 7 });
    assert.deepEqual(encodeReply(MULTI, { wrCnt: 7 }), bytes(u64(7)));
    throwsProtocol(() => decodeReply(MULTI, bytes(u32(7))), "EINVAL", /expected 8/);
  });

  it("encoder refuses more than 8 data bytes or more than 200 writes", () => {
    throwsProtocol(() =>
      encodeRequest(MULTI, { writes: [{ offset: 0n, region: 0, data: new Uint8Array(9) }] }),
    );
    const many = Array.from({ length: 201 }, () => ({
      offset: 0n,
      region: 0,
      data: new Uint8Array(1),
    }));
    throwsProtocol(() => encodeRequest(MULTI, { writes: many }));
  });
});
