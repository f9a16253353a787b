import {
  type BodyCodec,
  type CommandCodec,
  expectNoFds,
  expectNoWrap,
  expectXfer,
} from "../codec.js";
import type { Reader } from "../reader.js";
import { checkBytes } from "../writer.js";

/** struct vfio_user_region_access without data. */
export const REGION_ACCESS_SIZE = 16;

/**
 * VFIO_USER_REGION_READ request, and REGION_WRITE reply:
 *   0 offset u64 | 8 region u32 | 12 count u32
 */
export interface RegionAccess {
  offset: bigint;
  region: number;
  count: number;
}

/**
 * VFIO_USER_REGION_READ reply, and REGION_WRITE request: the same header with
 * count = data.length, then the data at 16.
 */
export interface RegionData {
  offset: bigint;
  region: number;
  data: Uint8Array;
}

export type RegionReadRequest = RegionAccess;
export type RegionReadReply = RegionData;
export type RegionWriteRequest = RegionData;
export type RegionWriteReply = RegionAccess;

function readHeader(r: Reader): RegionAccess {
  const v = { offset: r.u64("offset"), region: r.u32("region"), count: r.u32("count") };
  expectNoWrap(r, v.offset, BigInt(v.count), "region access");
  return v;
}

function accessCodec(isRequest: boolean): BodyCodec<RegionAccess> {
  return {
    size: () => REGION_ACCESS_SIZE,
    write(w, v) {
      w.u64(v.offset, "offset");
      w.u32(v.region, "region");
      w.u32(v.count, "count");
    },
    read(r, ctx) {
      expectNoFds(r, ctx);
      r.expectLength(REGION_ACCESS_SIZE);
      const v = readHeader(r);
      if (isRequest) expectXfer(r, ctx, v.count, "count");
      return v;
    },
  };
}

function dataCodec(isRequest: boolean): BodyCodec<RegionData> {
  return {
    size: (v) => REGION_ACCESS_SIZE + checkBytes(v.data, "data").byteLength,
    write(w, v) {
      w.u64(v.offset, "offset");
      w.u32(v.region, "region");
      w.u32(v.data.byteLength, "count");
      w.bytes(v.data, "data");
    },
    read(r, ctx) {
      expectNoFds(r, ctx);
      r.expectAtLeast(REGION_ACCESS_SIZE);
      const { offset, region, count } = readHeader(r);
      if (isRequest) expectXfer(r, ctx, count, "count");
      r.expectLength(REGION_ACCESS_SIZE + count);
      return { offset, region, data: r.bytes(count, "data") };
    },
  };
}

export const regionReadCodec: CommandCodec<RegionReadRequest, RegionReadReply> = {
  name: "REGION_READ",
  request: accessCodec(true),
  reply: dataCodec(false),
};

export const regionWriteCodec: CommandCodec<RegionWriteRequest, RegionWriteReply> = {
  name: "REGION_WRITE",
  request: dataCodec(true),
  reply: accessCodec(false),
};
