import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Command,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
} from "../../src/protocol/constants.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import { bytes, throwsProtocol, u32, u64 } from "./bytes.js";

const MAP = Command.VFIO_USER_DMA_MAP;
const UNMAP = Command.VFIO_USER_DMA_UNMAP;
const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

describe("DMA_MAP", () => {
  const wire = bytes(u32(32), u32(RW), u64(0x1000), u64(0xfee00000n), u64(0x200000));
  const msg = { argsz: 32, flags: RW, offset: 0x1000n, address: 0xfee00000n, size: 0x200000n };

  it("has argsz 0, flags 4, offset 8, address 16, size 24", () => {
    assert.deepEqual(decodeRequest(MAP, wire, { numFds: 1 }), msg);
    assert.deepEqual(encodeRequest(MAP, msg), wire);
  });

  it("allows 0 or 1 fd, never more", () => {
    assert.deepEqual(decodeRequest(MAP, wire), msg);
    throwsProtocol(() => decodeRequest(MAP, wire, { numFds: 2 }), "EINVAL", /at most 1/);
  });

  it("rejects short/long bodies, small argsz, unknown flags, wrapping ranges", () => {
    throwsProtocol(() => decodeRequest(MAP, wire.subarray(0, 31)), "EINVAL", /expected 32/);
    throwsProtocol(() => decodeRequest(MAP, bytes(wire, [0])), "EINVAL", /expected 32/);
    throwsProtocol(
      () => decodeRequest(MAP, bytes(u32(24), wire.subarray(4))),
      "EINVAL",
      /argsz 24/,
    );
    throwsProtocol(
      () => decodeRequest(MAP, bytes(u32(32), u32(4), wire.subarray(8))),
      "EINVAL",
      /flags/,
    );
    const wrap = bytes(u32(32), u32(1), u64(0), u64(0xfffffffffffff000n), u64(0x2000));
    throwsProtocol(() => decodeRequest(MAP, wrap), "EINVAL", /wraps/);
  });

  it("has an empty reply", () => {
    assert.deepEqual(decodeReply(MAP, new Uint8Array(0)), {});
    assert.equal(encodeReply(MAP, {}).byteLength, 0);
    throwsProtocol(() => decodeReply(MAP, bytes([0])), "EINVAL");
  });
});

describe("DMA_UNMAP", () => {
  it("has argsz 0, flags 4, address 8, size 16", () => {
    const wire = bytes(u32(24), u32(0), u64(0x100000), u64(0x1000));
    const msg = { argsz: 24, flags: 0, address: 0x100000n, size: 0x1000n };
    assert.deepEqual(decodeRequest(UNMAP, wire), msg);
    assert.deepEqual(encodeRequest(UNMAP, msg), wire);
    throwsProtocol(
      () => decodeRequest(UNMAP, bytes(u32(16), wire.subarray(4))),
      "EINVAL",
      /argsz 16/,
    );
  });

  it("FLAG_ALL needs address and size 0 and excludes the dirty bitmap", () => {
    const all = bytes(u32(24), u32(VFIO_DMA_UNMAP_FLAG_ALL), u64(0), u64(0));
    assert.equal(decodeRequest(UNMAP, all).flags, VFIO_DMA_UNMAP_FLAG_ALL);
    throwsProtocol(
      () => decodeRequest(UNMAP, bytes(u32(24), u32(VFIO_DMA_UNMAP_FLAG_ALL), u64(0), u64(4096))),
      "EINVAL",
      /address and size 0/,
    );
    const both = VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    throwsProtocol(
      () => decodeRequest(UNMAP, bytes(u32(64), u32(both), u64(0), u64(0), u64(4096), u64(8))),
      "EINVAL",
      /cannot be combined/,
    );
    throwsProtocol(
      () => decodeRequest(UNMAP, bytes(u32(24), u32(4), u64(0), u64(0))),
      "EINVAL",
      /flags/,
    );
  });

  it("GET_DIRTY_BITMAP carries bitmap pgsize at 24 and size at 32", () => {
    const flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    // 1 MiB at 4 KiB pages = 256 bits = 32 bytes of bitmap
    const wire = bytes(
      u32(24 + 16 + 32),
      u32(flags),
      u64(0x100000),
      u64(0x100000),
      u64(4096),
      u64(32),
    );
    const msg = {
      argsz: 72,
      flags,
      address: 0x100000n,
      size: 0x100000n,
      bitmap: { pgsize: 4096n, size: 32 },
    };
    assert.deepEqual(decodeRequest(UNMAP, wire), msg);
    assert.deepEqual(encodeRequest(UNMAP, msg), wire);
    // argsz must cover the bitmap in the reply
    throwsProtocol(
      () => decodeRequest(UNMAP, bytes(u32(71), wire.subarray(4))),
      "EINVAL",
      /argsz 71/,
    );
    // bitmap too small for the range
    const small = bytes(u32(100), u32(flags), u64(0), u64(0x100000), u64(4096), u64(24));
    throwsProtocol(() => decodeRequest(UNMAP, small), "EINVAL", /below the 32 bytes/);
    // pgsize must be a power of two
    const pg = bytes(u32(100), u32(flags), u64(0), u64(0x100000), u64(3000), u64(64));
    throwsProtocol(() => decodeRequest(UNMAP, pg), "EINVAL", /power of two/);
    // the bitmap header must be there
    throwsProtocol(() => decodeRequest(UNMAP, wire.subarray(0, 24)), "EINVAL", /expected 40/);
  });

  it("reply echoes the entry and appends the bitmap data at 40", () => {
    const flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    const data = Uint8Array.from({ length: 8 }, (_, i) => i + 1);
    const wire = bytes(u32(48), u32(flags), u64(0x2000), u64(0x10000), u64(4096), u64(8), data);
    const msg = {
      argsz: 48,
      flags,
      address: 0x2000n,
      size: 0x10000n,
      bitmap: { pgsize: 4096n, data },
    };
    assert.deepEqual(decodeReply(UNMAP, wire), msg);
    assert.deepEqual(encodeReply(UNMAP, msg), wire);
    throwsProtocol(() => decodeReply(UNMAP, wire.subarray(0, 47)), "EINVAL", /expected 48/);
    throwsProtocol(
      () => decodeReply(UNMAP, bytes(u32(47), wire.subarray(4))),
      "EINVAL",
      /argsz 47/,
    );
  });

  it("accepts a reply argsz larger than needed (libvfio-user echoes the request's)", () => {
    const wire = bytes(u32(4096), u32(0), u64(0x1000), u64(0x1000));
    assert.equal(decodeReply(UNMAP, wire).argsz, 4096);
  });

  it("encoder insists on bitmap iff GET_DIRTY_BITMAP", () => {
    throwsProtocol(
      () =>
        encodeRequest(UNMAP, {
          argsz: 24,
          flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
          address: 0n,
          size: 1n,
        }),
      "EINVAL",
      /bitmap/,
    );
  });
});
