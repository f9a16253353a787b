import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitReply, needsLargerBuffer } from "../../src/protocol/argsz.js";
import {
  Command,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_CAP_TYPE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from "../../src/protocol/constants.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import type { RegionInfoReply } from "../../src/protocol/messages/region-info.js";
import { bytes, throwsProtocol, u16, u32, u64, zeros } from "./bytes.js";

const RI = Command.VFIO_USER_DEVICE_GET_REGION_INFO;
const RW = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
const CAPS = VFIO_REGION_INFO_FLAG_CAPS;
const MMAP = VFIO_REGION_INFO_FLAG_MMAP;

function fixed(
  argsz: number,
  flags: number,
  index: number,
  capOffset: number,
  size: bigint,
  offset: bigint,
) {
  return bytes(u32(argsz), u32(flags), u32(index), u32(capOffset), u64(size), u64(offset));
}

describe("DEVICE_GET_REGION_INFO request", () => {
  it("has argsz at 0 and index at 8; the rest is zero", () => {
    const wire = bytes(u32(32), zeros(4), u32(7), zeros(20));
    assert.deepEqual(encodeRequest(RI, { argsz: 32, index: 7 }), wire);
    assert.deepEqual(decodeRequest(RI, wire), { argsz: 32, index: 7 });
    throwsProtocol(() => decodeRequest(RI, bytes(u32(31), wire.subarray(4))), "EINVAL", /argsz 31/);
    throwsProtocol(() => decodeRequest(RI, wire.subarray(0, 16)), "EINVAL", /at least 32/);
  });

  it("accepts libvfio-user's argsz-sized request body and ignores the reserved tail", () => {
    const wire = bytes(u32(80), zeros(4), u32(1), zeros(20), zeros(48));
    assert.deepEqual(decodeRequest(RI, wire), { argsz: 80, index: 1 });
  });
});

describe("DEVICE_GET_REGION_INFO reply", () => {
  it("fixed part: argsz, flags, index, cap_offset 12, size 16, offset 24", () => {
    const wire = fixed(32, RW | MMAP, 0, 0, 0x4000n, 0x10000000000n);
    const msg: RegionInfoReply = {
      argsz: 32,
      flags: RW | MMAP,
      index: 0,
      size: 0x4000n,
      offset: 0x10000000000n,
      caps: [],
    };
    assert.deepEqual(decodeReply(RI, wire, { numFds: 1 }), msg);
    assert.deepEqual(encodeReply(RI, msg), wire);
  });

  it("walks a sparse-mmap then type capability chain", () => {
    // sparse at 32: header(8) nr_areas(4) reserved(4) 2 areas(32) = 48 bytes -> type at 80
    const wire = bytes(
      fixed(96, RW | MMAP | CAPS, 2, 32, 0x8000n, 0n),
      u16(VFIO_REGION_INFO_CAP_SPARSE_MMAP),
      u16(1),
      u32(80),
      u32(2),
      u32(0),
      u64(0x1000),
      u64(0x1000),
      u64(0x4000),
      u64(0x2000),
      u16(VFIO_REGION_INFO_CAP_TYPE),
      u16(1),
      u32(0),
      u32(0x80000000),
      u32(3),
    );
    const msg: RegionInfoReply = {
      argsz: 96,
      flags: RW | MMAP | CAPS,
      index: 2,
      size: 0x8000n,
      offset: 0n,
      caps: [
        {
          kind: "sparse-mmap",
          areas: [
            { offset: 0x1000n, size: 0x1000n },
            { offset: 0x4000n, size: 0x2000n },
          ],
        },
        { kind: "type", type: 0x80000000, subtype: 3 },
      ],
    };
    assert.deepEqual(decodeReply(RI, wire, { numFds: 1 }), msg);
    assert.deepEqual(encodeReply(RI, msg), wire);
  });

  it("keeps unknown capabilities (and unknown versions) as raw bytes", () => {
    const wire = bytes(
      fixed(56, CAPS, 9, 32, 0n, 0n),
      u16(3),
      u16(1),
      u32(40),
      u16(VFIO_REGION_INFO_CAP_TYPE),
      u16(2),
      u32(0),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    const v = decodeReply(RI, wire);
    assert.deepEqual(v.caps, [
      { kind: "raw", id: 3, version: 1, data: new Uint8Array(0) },
      {
        kind: "raw",
        id: VFIO_REGION_INFO_CAP_TYPE,
        version: 2,
        data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
      },
    ]);
    assert.deepEqual(encodeReply(RI, v), wire);
  });

  it("accepts a chain that starts past 32 and follows cap_offset", () => {
    const wire = bytes(
      fixed(56, CAPS, 0, 40, 0n, 0n),
      zeros(8),
      u16(2),
      u16(1),
      u32(0),
      u32(1),
      u32(2),
    );
    assert.deepEqual(decodeReply(RI, wire).caps, [{ kind: "type", type: 1, subtype: 2 }]);
  });

  it("rejects cycles, backward and out-of-bounds links", () => {
    const selfLoop = bytes(fixed(48, CAPS, 0, 32, 0n, 0n), u16(2), u16(1), u32(32), u32(0), u32(0));
    throwsProtocol(() => decodeReply(RI, selfLoop), "EINVAL", /next 32/);
    const backward = bytes(
      fixed(56, CAPS, 0, 40, 0n, 0n),
      zeros(8),
      u16(9),
      u16(1),
      u32(32),
      zeros(8),
    );
    throwsProtocol(() => decodeReply(RI, backward), "EINVAL", /next 32/);
    const outside = bytes(fixed(48, CAPS, 0, 32, 0n, 0n), u16(2), u16(1), u32(44), u32(0), u32(0));
    throwsProtocol(() => decodeReply(RI, outside), "EINVAL", /next 44/);
    const inFixed = bytes(fixed(48, CAPS, 0, 16, 0n, 0n), zeros(16));
    throwsProtocol(() => decodeReply(RI, inFixed), "EINVAL", /overlaps/);
    const headerPastEnd = bytes(fixed(36, CAPS, 0, 32, 0n, 0n), zeros(4));
    throwsProtocol(() => decodeReply(RI, headerPastEnd), "EINVAL", /runs past 36/);
  });

  it("rejects a sparse capability whose nr_areas exceeds its bytes", () => {
    const wire = bytes(
      fixed(64, CAPS, 0, 32, 0n, 0n),
      u16(1),
      u16(1),
      u32(0),
      u32(0xffffffff),
      u32(0),
      zeros(16),
    );
    throwsProtocol(() => decodeReply(RI, wire), "EINVAL", /nr_areas 4294967295/);
  });

  it("argsz-too-small reply: fixed part only, argsz says what is needed", () => {
    const wire = fixed(96, RW, 2, 0, 0x8000n, 0n);
    const v = decodeReply(RI, wire);
    assert.equal(v.argsz, 96);
    assert.deepEqual(v.caps, []);
    assert.ok(needsLargerBuffer(32, v));
    // a kernel-style form (FLAG_CAPS kept, cap_offset 0) and libvfio-user's zero filler too
    assert.deepEqual(decodeReply(RI, fixed(96, RW | CAPS, 2, 0, 1n, 0n)).caps, []);
    assert.equal(decodeReply(RI, bytes(fixed(96, RW, 2, 0, 1n, 0n), zeros(8))).argsz, 96);
  });

  it("rejects argsz below 32 or below the body, and junk without caps", () => {
    throwsProtocol(() => decodeReply(RI, fixed(16, RW, 0, 0, 0n, 0n)), "EINVAL", /argsz 16/);
    throwsProtocol(
      () => decodeReply(RI, bytes(fixed(32, RW, 0, 0, 0n, 0n), zeros(8))),
      "EINVAL",
      /argsz 32/,
    );
    throwsProtocol(
      () => decodeReply(RI, bytes(fixed(40, RW, 0, 0, 0n, 0n), zeros(8))),
      "EINVAL",
      /trailing/,
    );
  });

  it("allows one fd only with FLAG_MMAP", () => {
    throwsProtocol(
      () => decodeReply(RI, fixed(32, RW, 0, 0, 0n, 0n), { numFds: 1 }),
      "EINVAL",
      /descriptor/,
    );
    throwsProtocol(
      () => decodeReply(RI, fixed(32, MMAP, 0, 0, 0n, 0n), { numFds: 2 }),
      "EINVAL",
      /at most 1/,
    );
  });

  it("fitReply lays out caps or drops them (clearing FLAG_CAPS) for a small argsz", () => {
    const full: RegionInfoReply = {
      argsz: 0,
      flags: RW,
      index: 1,
      size: 0x1000n,
      offset: 0n,
      caps: [{ kind: "type", type: 1, subtype: 1 }],
    };
    const big = fitReply(RI, 4096, full);
    assert.equal(big.argsz, 48);
    assert.equal(big.flags, RW | CAPS);
    assert.equal(encodeReply(RI, big).byteLength, 48);
    const small = fitReply(RI, 32, full);
    assert.deepEqual(small, { ...full, argsz: 48, flags: RW, caps: [] });
    const wire = encodeReply(RI, small);
    assert.equal(wire.byteLength, 32);
    assert.ok(needsLargerBuffer(32, decodeReply(RI, wire)));
    assert.equal(fitReply(RI, 32, { ...full, caps: [] }).argsz, 32);
    throwsProtocol(() => fitReply(RI, 16, full), "EINVAL");
  });

  it("encoder refuses caps without FLAG_CAPS or with a wrong argsz", () => {
    const base: RegionInfoReply = {
      argsz: 48,
      flags: RW,
      index: 0,
      size: 0n,
      offset: 0n,
      caps: [],
    };
    const cap = { kind: "type" as const, type: 1, subtype: 1 };
    throwsProtocol(() => encodeReply(RI, { ...base, caps: [cap] }), "EINVAL", /FLAG_CAPS/);
    throwsProtocol(
      () => encodeReply(RI, { ...base, flags: CAPS, argsz: 40, caps: [cap] }),
      "EINVAL",
      /argsz 40/,
    );
  });
});
