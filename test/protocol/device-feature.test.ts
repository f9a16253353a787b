import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitReply, needsLargerBuffer } from "../../src/protocol/argsz.js";
import {
  Command,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_STATE_STOP_COPY,
  VFIO_MIGRATION_PRE_COPY,
  VFIO_MIGRATION_STOP_COPY,
} from "../../src/protocol/constants.js";
import type { DeviceFeatureMessage } from "../../src/protocol/messages/device-feature.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import { bytes, throwsProtocol, u32, u64 } from "./bytes.js";

const F = Command.VFIO_USER_DEVICE_FEATURE;
const GET = VFIO_DEVICE_FEATURE_GET;
const SET = VFIO_DEVICE_FEATURE_SET;
const PROBE = VFIO_DEVICE_FEATURE_PROBE;
const MR = Command.VFIO_USER_MIG_DATA_READ;
const MW = Command.VFIO_USER_MIG_DATA_WRITE;

describe("DEVICE_FEATURE", () => {
  it("flags: feature index in bits 0-15, GET bit 16, SET 17, PROBE 18", () => {
    const wire = bytes(u32(8), u32(GET | PROBE | VFIO_DEVICE_FEATURE_MIGRATION));
    const msg: DeviceFeatureMessage = {
      argsz: 8,
      feature: VFIO_DEVICE_FEATURE_MIGRATION,
      ops: GET | PROBE,
      data: { kind: "raw", bytes: new Uint8Array(0) },
    };
    assert.deepEqual(decodeRequest(F, wire), msg);
    assert.deepEqual(encodeRequest(F, msg), wire);
  });

  it("rejects unknown flag bits, no operation, and GET|SET without PROBE", () => {
    throwsProtocol(
      () => decodeRequest(F, bytes(u32(8), u32((1 << 19) | GET | 1))),
      "EINVAL",
      /unknown flag/,
    );
    throwsProtocol(() => decodeRequest(F, bytes(u32(8), u32(1))), "EINVAL", /no GET/);
    throwsProtocol(() => decodeRequest(F, bytes(u32(8), u32(GET | SET | 1))), "EINVAL", /PROBE/);
    assert.equal(
      decodeRequest(F, bytes(u32(8), u32(GET | SET | PROBE | 1))).ops,
      GET | SET | PROBE,
    );
    throwsProtocol(() => decodeRequest(F, bytes(u32(8))), "EINVAL", /flags/);
  });

  it("MIGRATION GET reply: flags u64 at 8", () => {
    const flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;
    const wire = bytes(u32(16), u32(GET | VFIO_DEVICE_FEATURE_MIGRATION), u64(flags));
    const msg: DeviceFeatureMessage = {
      argsz: 16,
      feature: VFIO_DEVICE_FEATURE_MIGRATION,
      ops: GET,
      data: { kind: "migration", flags },
    };
    assert.deepEqual(decodeReply(F, wire), msg);
    assert.deepEqual(encodeReply(F, msg), wire);
    throwsProtocol(
      () => decodeReply(F, bytes(u32(12), u32(GET | 1), u32(0))),
      "EINVAL",
      /expected 16/,
    );
  });

  it("MIG_DEVICE_STATE SET: device_state at 8, data_fd at 12; argsz covers the echo", () => {
    const wire = bytes(
      u32(16),
      u32(SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE),
      u32(VFIO_DEVICE_STATE_STOP_COPY),
      u32(0),
    );
    const msg: DeviceFeatureMessage = {
      argsz: 16,
      feature: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
      ops: SET,
      data: { kind: "mig-state", deviceState: VFIO_DEVICE_STATE_STOP_COPY, dataFd: 0 },
    };
    assert.deepEqual(decodeRequest(F, wire), msg);
    assert.deepEqual(encodeRequest(F, msg), wire);
    assert.deepEqual(decodeReply(F, wire), msg);
    throwsProtocol(() => decodeRequest(F, bytes(u32(8), wire.subarray(4))), "EINVAL", /argsz 8/);
    throwsProtocol(() => decodeRequest(F, wire.subarray(0, 12)), "EINVAL", /expected 16/);
  });

  it("DMA_LOGGING_START: page_size, num_ranges, reserved, ranges at 16", () => {
    const wire = bytes(
      u32(56),
      u32(SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START),
      u64(4096),
      u32(2),
      u32(0),
      u64(0),
      u64(0x100000),
      u64(0x200000),
      u64(0x1000),
    );
    const msg: DeviceFeatureMessage = {
      argsz: 56,
      feature: VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
      ops: SET,
      data: {
        kind: "dma-logging-control",
        pageSize: 4096n,
        ranges: [
          { iova: 0n, length: 0x100000n },
          { iova: 0x200000n, length: 0x1000n },
        ],
      },
    };
    assert.deepEqual(decodeRequest(F, wire), msg);
    assert.deepEqual(encodeRequest(F, msg), wire);
    const huge = bytes(u32(4096), u32(SET | 6), u64(4096), u32(0x10000000), u32(0));
    throwsProtocol(() => decodeRequest(F, huge), "EINVAL", /num_ranges/);
  });

  it("DMA_LOGGING_STOP data is kept raw (libvfio-user sends a control struct)", () => {
    const wire = bytes(
      u32(24),
      u32(SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP),
      u64(4096),
      u32(0),
      u32(0),
    );
    const v = decodeRequest(F, wire);
    assert.equal(v.data.kind, "raw");
    assert.deepEqual(encodeRequest(F, v), wire);
  });

  it("DMA_LOGGING_REPORT: iova, length, page_size; the reply adds the bitmap at 32", () => {
    const req = bytes(
      u32(32 + 8),
      u32(GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT),
      u64(0x10000),
      u64(0x40000),
      u64(4096),
    );
    const v = decodeRequest(F, req);
    assert.deepEqual(v.data, {
      kind: "dma-logging-report",
      iova: 0x10000n,
      length: 0x40000n,
      pageSize: 4096n,
    });
    // 64 pages -> one u64 word
    const bitmap = Uint8Array.from([0xff, 0, 0, 0, 0, 0, 0, 0x80]);
    const rep = bytes(u32(40), req.subarray(4), bitmap);
    const r = decodeReply(F, rep);
    assert.deepEqual(r.data, {
      kind: "dma-logging-report",
      iova: 0x10000n,
      length: 0x40000n,
      pageSize: 4096n,
      bitmap,
    });
    assert.deepEqual(encodeReply(F, r), rep);
    throwsProtocol(
      () => decodeReply(F, bytes(u32(48), rep.subarray(4), bitmap)),
      "EINVAL",
      /expected 40/,
    );
    const npot = bytes(u32(40), u32(GET | 8), u64(0), u64(4096), u64(3000));
    throwsProtocol(() => decodeRequest(F, npot), "EINVAL", /power of two/);
    const zero = bytes(u32(40), u32(GET | 8), u64(0), u64(0), u64(4096));
    throwsProtocol(() => decodeRequest(F, zero), "EINVAL", /length is 0/);
  });

  it("GET reply too big for argsz: only argsz+flags, argsz is the needed size", () => {
    const full: DeviceFeatureMessage = {
      argsz: 0,
      feature: VFIO_DEVICE_FEATURE_MIGRATION,
      ops: GET,
      data: { kind: "migration", flags: 1n },
    };
    const small = fitReply(F, 8, full);
    assert.deepEqual(small, {
      ...full,
      argsz: 16,
      data: { kind: "raw", bytes: new Uint8Array(0) },
    });
    const wire = encodeReply(F, small);
    assert.deepEqual(wire, bytes(u32(16), u32(GET | 1)));
    assert.ok(needsLargerBuffer(8, decodeReply(F, wire)));
    assert.equal(fitReply(F, 16, full).argsz, 16);
    // SET/PROBE echo cannot be truncated
    throwsProtocol(() =>
      fitReply(F, 8, {
        ...full,
        ops: SET,
        feature: 2,
        data: { kind: "mig-state", deviceState: 1, dataFd: 0 },
      }),
    );
  });

  it("encoder checks data kind against feature and operation", () => {
    const bad: DeviceFeatureMessage = {
      argsz: 16,
      feature: VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
      ops: SET,
      data: { kind: "migration", flags: 0n },
    };
    throwsProtocol(() => encodeRequest(F, bad), "EINVAL", /data kind migration/);
    throwsProtocol(() => encodeRequest(F, { ...bad, feature: 0x10000 }), "EINVAL", /feature/);
  });
});

describe("MIG_DATA_READ / MIG_DATA_WRITE", () => {
  it("read request: argsz 0, size 4", () => {
    const wire = bytes(u32(8 + 4096), u32(4096));
    assert.deepEqual(decodeRequest(MR, wire), { argsz: 4104, size: 4096 });
    assert.deepEqual(encodeRequest(MR, { argsz: 4104, size: 4096 }), wire);
    throwsProtocol(() => decodeRequest(MR, bytes(u32(4), u32(0))), "EINVAL", /argsz 4/);
    throwsProtocol(() => decodeRequest(MR, wire, { maxDataXferSize: 1024 }), "E2BIG");
  });

  it("read reply: argsz = 8 + size, data at 8; libvfio-user's filler after the data is ignored", () => {
    const data = Uint8Array.from([1, 2, 3]);
    const wire = bytes(u32(11), u32(3), data);
    assert.deepEqual(decodeReply(MR, wire), { argsz: 11, data });
    assert.deepEqual(encodeReply(MR, { argsz: 11, data }), wire);
    assert.deepEqual(decodeReply(MR, bytes(wire, [0, 0, 0])), { argsz: 11, data });
    throwsProtocol(() => decodeReply(MR, bytes(u32(12), u32(3), data)), "EINVAL", /argsz 12/);
    throwsProtocol(() => decodeReply(MR, bytes(u32(13), u32(5), data)), "EINVAL", /data/);
  });

  it("write request: argsz, size, data at 8; empty reply", () => {
    const data = Uint8Array.from([9, 8]);
    const wire = bytes(u32(10), u32(2), data);
    assert.deepEqual(decodeRequest(MW, wire), { argsz: 10, data });
    assert.deepEqual(encodeRequest(MW, { argsz: 10, data }), wire);
    throwsProtocol(() => decodeRequest(MW, bytes(wire, [0])), "EINVAL", /expected 10/);
    assert.deepEqual(decodeReply(MW, new Uint8Array(0)), {});
  });

  it("fitReply sets argsz and refuses data beyond the client's argsz", () => {
    const data = new Uint8Array(100);
    assert.equal(fitReply(MR, 108, { argsz: 0, data }).argsz, 108);
    throwsProtocol(() => fitReply(MR, 100, { argsz: 0, data }), "E2BIG");
  });
});
