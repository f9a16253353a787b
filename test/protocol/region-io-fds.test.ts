import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitReply } from "../../src/protocol/argsz.js";
import {
  Command,
  KVM_IOEVENTFD_FLAG_DATAMATCH,
  KVM_IOREGION_POSTED_WRITES,
  VFIO_USER_IO_FD_TYPE_IOEVENTFD,
  VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW,
  VFIO_USER_IO_FD_TYPE_IOREGIONFD,
} from "../../src/protocol/constants.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import type { RegionIoFdsReply } from "../../src/protocol/messages/region-io-fds.js";
import { bytes, throwsProtocol, u32, u64, zeros } from "./bytes.js";

const IOFDS = Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS;

describe("DEVICE_GET_REGION_IO_FDS", () => {
  it("request: argsz 0, flags 4 (0), index 8, count 12 (0)", () => {
    const wire = bytes(u32(1024), u32(0), u32(4), u32(0));
    assert.deepEqual(encodeRequest(IOFDS, { argsz: 1024, index: 4 }), wire);
    assert.deepEqual(decodeRequest(IOFDS, wire), { argsz: 1024, index: 4 });
    throwsProtocol(
      () => decodeRequest(IOFDS, bytes(u32(1024), u32(1), u32(4), u32(0))),
      "EINVAL",
      /zero/,
    );
    throwsProtocol(
      () => decodeRequest(IOFDS, bytes(u32(1024), u32(0), u32(4), u32(3))),
      "EINVAL",
      /zero/,
    );
    throwsProtocol(
      () => decodeRequest(IOFDS, bytes(u32(8), u32(0), u32(4), u32(0))),
      "EINVAL",
      /argsz 8/,
    );
  });

  it("reply with one entry of each spec type (40-byte entries)", () => {
    const wire = bytes(
      u32(16 + 80),
      u32(0),
      u32(0),
      u32(2),
      // ioeventfd: offset, size, fd_index, type, flags, padding, datamatch
      u64(0x1000),
      u64(4),
      u32(0),
      u32(VFIO_USER_IO_FD_TYPE_IOEVENTFD),
      u32(KVM_IOEVENTFD_FLAG_DATAMATCH),
      u32(0),
      u64(0xabcd),
      // ioregionfd: offset, size, fd_index, type, flags, padding, user_data
      u64(0x2000),
      u64(0),
      u32(1),
      u32(VFIO_USER_IO_FD_TYPE_IOREGIONFD),
      u32(KVM_IOREGION_POSTED_WRITES),
      u32(0),
      u64(0x1234567890n),
    );
    const msg: RegionIoFdsReply = {
      argsz: 96,
      index: 0,
      count: 2,
      subRegions: [
        {
          type: VFIO_USER_IO_FD_TYPE_IOEVENTFD,
          offset: 0x1000n,
          size: 4n,
          fdIndex: 0,
          flags: KVM_IOEVENTFD_FLAG_DATAMATCH,
          datamatch: 0xabcdn,
        },
        {
          type: VFIO_USER_IO_FD_TYPE_IOREGIONFD,
          offset: 0x2000n,
          size: 0n,
          fdIndex: 1,
          flags: KVM_IOREGION_POSTED_WRITES,
          userData: 0x1234567890n,
        },
      ],
    };
    assert.deepEqual(decodeReply(IOFDS, wire, { numFds: 2 }), msg);
    assert.deepEqual(encodeReply(IOFDS, msg), wire);
    throwsProtocol(() => decodeReply(IOFDS, wire, { numFds: 1 }), "EINVAL", /fd_index 1 but 1 fds/);
    throwsProtocol(() => decodeReply(IOFDS, wire, { numFds: 0 }), "EINVAL", /no file descriptors/);
  });

  it("reads libvfio-user's 48-byte entries (shadow ioeventfd, datamatch at 40)", () => {
    const wire = bytes(
      u32(16 + 48),
      u32(0),
      u32(1),
      u32(1),
      u64(0x10),
      u64(8),
      u32(0),
      u32(VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW),
      u32(0),
      u32(1),
      u64(0x3000),
      u64(77),
    );
    const v = decodeReply(IOFDS, wire, { numFds: 2 });
    assert.deepEqual(v.subRegions, [
      {
        type: VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW,
        offset: 0x10n,
        size: 8n,
        fdIndex: 0,
        flags: 0,
        datamatch: 77n,
        shadowFdIndex: 1,
        shadowOffset: 0x3000n,
      },
    ]);
    assert.deepEqual(encodeReply(IOFDS, v), wire);
    throwsProtocol(() => decodeReply(IOFDS, wire, { numFds: 1 }), "EINVAL", /shadow fd index 1/);
    // a plain ioeventfd in a 48-byte entry also has its datamatch at 40
    const plain = bytes(
      wire.subarray(0, 36),
      u32(VFIO_USER_IO_FD_TYPE_IOEVENTFD),
      wire.subarray(40),
    );
    const p = decodeReply(IOFDS, plain, { numFds: 1 }).subRegions[0];
    assert.equal(p?.type === VFIO_USER_IO_FD_TYPE_IOEVENTFD && p.datamatch, 77n);
  });

  it("rejects bad strides, unknown types, non-zero flags, small argsz", () => {
    const hdr = (argsz: number, count: number, flags = 0) =>
      bytes(u32(argsz), u32(flags), u32(0), u32(count));
    throwsProtocol(
      () => decodeReply(IOFDS, bytes(hdr(16 + 81, 2), zeros(81)), { numFds: 1 }),
      "EINVAL",
      /divide/,
    );
    throwsProtocol(
      () => decodeReply(IOFDS, bytes(hdr(16 + 32, 1), zeros(32)), { numFds: 1 }),
      "EINVAL",
      /entry size 32/,
    );
    const typed = bytes(hdr(56, 1), u64(0), u64(0), u32(0), u32(9), zeros(16));
    throwsProtocol(() => decodeReply(IOFDS, typed, { numFds: 1 }), "EINVAL", /type 9/);
    const shadowIn40 = bytes(hdr(56, 1), u64(0), u64(0), u32(0), u32(2), zeros(16));
    throwsProtocol(() => decodeReply(IOFDS, shadowIn40, { numFds: 1 }), "EINVAL", /shadow/);
    throwsProtocol(() => decodeReply(IOFDS, hdr(16, 0, 1)), "EINVAL", /flags/);
    throwsProtocol(() => decodeReply(IOFDS, hdr(8, 0)), "EINVAL", /argsz 8/);
    throwsProtocol(() => decodeReply(IOFDS, hdr(16, 0), { numFds: 1 }), "EINVAL", /descriptor/);
  });

  it("argsz-too-small reply: count of all, no entries, no fds", () => {
    const wire = bytes(u32(16 + 400), u32(0), u32(3), u32(10));
    assert.deepEqual(decodeReply(IOFDS, wire), { argsz: 416, index: 3, count: 10, subRegions: [] });
    throwsProtocol(() => decodeReply(IOFDS, wire, { numFds: 1 }), "EINVAL", /descriptor/);
  });

  it("fitReply computes argsz and drops entries that do not fit", () => {
    const full: RegionIoFdsReply = {
      argsz: 0,
      index: 0,
      count: 0,
      subRegions: [
        {
          type: VFIO_USER_IO_FD_TYPE_IOEVENTFD,
          offset: 0n,
          size: 4n,
          fdIndex: 0,
          flags: 0,
          datamatch: 0n,
        },
      ],
    };
    assert.deepEqual(fitReply(IOFDS, 56, full), { ...full, argsz: 56, count: 1 });
    assert.deepEqual(fitReply(IOFDS, 55, full), { ...full, argsz: 56, count: 1, subRegions: [] });
    assert.equal(encodeReply(IOFDS, fitReply(IOFDS, 16, full)).byteLength, 16);
  });
});
