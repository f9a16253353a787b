import { type BodyCodec, type CommandCodec, expectNoFds, expectNoWrap } from "../codec.js";
import { VFIO_USER_MULTI_DATA, VFIO_USER_MULTI_MAX } from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import { checkBytes, checkUint } from "../writer.js";

/** One entry of the write array: 0 offset u64 | 8 region u32 | 12 count u32 | 16 data[8]. */
export const MULTI_ENTRY_SIZE = 24;

/** One write of REGION_WRITE_MULTI. */
export interface MultiWrite {
  offset: bigint;
  region: number;
  /** 0 to 8 bytes (count = data.length; the rest of the 8-byte slot is zero). */
  data: Uint8Array;
}

/**
 * VFIO_USER_REGION_WRITE_MULTI request: 0 wr_cnt u64 | 8 wrs[wr_cnt], each 24 bytes.
 * wr_cnt is bounded by VFIO_USER_MULTI_MAX (QEMU's array size) and must match the body.
 */
export interface RegionWriteMultiRequest {
  writes: MultiWrite[];
}

/** VFIO_USER_REGION_WRITE_MULTI reply: 0 wr_cnt u64, the number of writes completed. */
export interface RegionWriteMultiReply {
  wrCnt: number;
}

const request: BodyCodec<RegionWriteMultiRequest> = {
  size(v) {
    if (!Array.isArray(v.writes) || v.writes.length > VFIO_USER_MULTI_MAX) {
      throw new ProtocolError("EINVAL", `WRITE_MULTI: 0..${VFIO_USER_MULTI_MAX} writes allowed`);
    }
    for (const wr of v.writes) {
      if (checkBytes(wr.data, "data").byteLength > VFIO_USER_MULTI_DATA) {
        throw new ProtocolError("EINVAL", "WRITE_MULTI: an entry carries at most 8 bytes");
      }
    }
    return 8 + MULTI_ENTRY_SIZE * v.writes.length;
  },
  write(w, v) {
    w.u64Number(v.writes.length, "wr_cnt");
    for (const wr of v.writes) {
      w.u64(wr.offset, "offset");
      w.u32(wr.region, "region");
      w.u32(wr.data.byteLength, "count");
      w.bytes(wr.data, "data");
      w.zeros(VFIO_USER_MULTI_DATA - wr.data.byteLength, "data padding");
    }
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    const n = r.u64Number("wr_cnt", VFIO_USER_MULTI_MAX);
    r.expectLength(8 + MULTI_ENTRY_SIZE * n);
    const writes: MultiWrite[] = [];
    for (let i = 0; i < n; i++) {
      const offset = r.u64("offset");
      const region = r.u32("region");
      const count = r.u32("count");
      if (count > VFIO_USER_MULTI_DATA) r.fail(`entry ${i} count ${count} exceeds 8`);
      expectNoWrap(r, offset, BigInt(count), `entry ${i}`);
      const slot = r.bytes(VFIO_USER_MULTI_DATA, "data");
      writes.push({ offset, region, data: slot.subarray(0, count) });
    }
    return { writes };
  },
};

const reply: BodyCodec<RegionWriteMultiReply> = {
  size: () => 8,
  write(w, v) {
    w.u64Number(checkUint(v.wrCnt, VFIO_USER_MULTI_MAX, "wr_cnt"), "wr_cnt");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectLength(8);
    return { wrCnt: r.u64Number("wr_cnt", VFIO_USER_MULTI_MAX) };
  },
};

/** Codec of VFIO_USER_REGION_WRITE_MULTI. */
export const regionWriteMultiCodec: CommandCodec<RegionWriteMultiRequest, RegionWriteMultiReply> = {
  request,
  reply,
};
