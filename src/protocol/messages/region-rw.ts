import { getU32, setU32 } from "../../le.js";
import {
  type BodyCodec,
  type CommandCodec,
  type DecodeContext,
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

/** VFIO_USER_REGION_READ request: region, offset and count. */
export type RegionReadRequest = RegionAccess;
/** VFIO_USER_REGION_READ reply: the data read. */
export type RegionReadReply = RegionData;
/** VFIO_USER_REGION_WRITE request: region, offset and data. */
export type RegionWriteRequest = RegionData;
/** VFIO_USER_REGION_WRITE reply: region, offset and count written. */
export type RegionWriteReply = RegionAccess;

function readHeader(r: Reader): RegionAccess {
  const v = { offset: r.u64("offset"), region: r.u32("region"), count: r.u32("count") };
  expectNoWrap(r, v.offset, BigInt(v.count), "region access");
  return v;
}

const U32_MAX = 0xffffffff;
const U64_END = 1n << 64n;

/**
 * The access header of a body the fast decoders accept, or undefined. Declines whatever
 * the generic decoder might reject: fds, a count over max_data_xfer_size (requests), and
 * an offset in the top 4 GiB (where offset + count could wrap past 2^64).
 */
function fastHeader(
  body: Uint8Array,
  ctx: DecodeContext,
  isRequest: boolean,
): RegionAccess | undefined {
  if (ctx.numFds !== 0 || body.byteLength < REGION_ACCESS_SIZE) return undefined;
  const hi = getU32(body, 4);
  if (hi === U32_MAX) return undefined;
  const count = getU32(body, 12);
  if (isRequest && ctx.maxDataXferSize !== undefined && count > ctx.maxDataXferSize) {
    return undefined;
  }
  const lo = getU32(body, 0);
  const offset = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
  return { offset, region: getU32(body, 8), count };
}

/** The 16 header bytes, or undefined if a field is out of range (the generic encoder reports it). */
function fastEncodeHeader(
  offset: unknown,
  region: unknown,
  count: number,
  dataLength: number,
): Uint8Array | undefined {
  if (typeof offset !== "bigint" || offset < 0n || offset >= U64_END) return undefined;
  if (typeof region !== "number" || !Number.isInteger(region) || region < 0 || region > U32_MAX) {
    return undefined;
  }
  if (!Number.isInteger(count) || count < 0 || count > U32_MAX) return undefined;
  const b = new Uint8Array(REGION_ACCESS_SIZE + dataLength);
  const lo = Number(offset & 0xffffffffn);
  const hi = offset < 0x100000000n ? 0 : Number(offset >> 32n);
  setU32(b, 0, lo);
  setU32(b, 4, hi);
  setU32(b, 8, region);
  setU32(b, 12, count);
  return b;
}

function accessCodec(isRequest: boolean): BodyCodec<RegionAccess> {
  return {
    fastRead(body, ctx) {
      return body.byteLength === REGION_ACCESS_SIZE ? fastHeader(body, ctx, isRequest) : undefined;
    },
    fastEncode: (v) => fastEncodeHeader(v.offset, v.region, v.count, 0),
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
    fastRead(body, ctx) {
      const h = fastHeader(body, ctx, isRequest);
      if (h === undefined || body.byteLength !== REGION_ACCESS_SIZE + h.count) return undefined;
      return { offset: h.offset, region: h.region, data: body.subarray(REGION_ACCESS_SIZE) };
    },
    fastEncode(v) {
      if (!(v.data instanceof Uint8Array)) return undefined;
      const b = fastEncodeHeader(v.offset, v.region, v.data.byteLength, v.data.byteLength);
      b?.set(v.data, REGION_ACCESS_SIZE);
      return b;
    },
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

/** Codec of VFIO_USER_REGION_READ. */
export const regionReadCodec: CommandCodec<RegionReadRequest, RegionReadReply> = {
  request: accessCodec(true),
  reply: dataCodec(false),
};

/** Codec of VFIO_USER_REGION_WRITE. */
export const regionWriteCodec: CommandCodec<RegionWriteRequest, RegionWriteReply> = {
  request: dataCodec(true),
  reply: accessCodec(false),
};
