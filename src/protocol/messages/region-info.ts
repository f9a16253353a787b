import { type BodyCodec, type CommandCodec, expectArgsz, expectNoFds } from "../codec.js";
import { VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP } from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import { capsSize, type RegionCap, readCaps, writeCaps } from "./region-caps.js";

/** Size of struct vfio_region_info, request and fixed part of the reply. */
export const REGION_INFO_SIZE = 32;

/**
 * VFIO_USER_DEVICE_GET_REGION_INFO request:
 *   0 argsz u32 | 4 flags u32 | 8 index u32 | 12 cap_offset u32 | 16 size u64 | 24 offset u64
 * Only argsz and index mean anything; the rest is ignored and written as zero.
 */
export interface RegionInfoRequest {
  argsz: number;
  index: number;
}

/**
 * VFIO_USER_DEVICE_GET_REGION_INFO reply: the same fixed part, then the capability
 * chain (cap_offset is computed: 32 when there are caps, else 0).
 *
 * argsz is the size of the full reply. When it exceeds the body the reply is the
 * "argsz too small" form: only the fixed part, `caps` empty, and the client should retry
 * with argsz = reply.argsz. fitReply produces that form with FLAG_CAPS cleared (as
 * libvfio-user does; QEMU rejects FLAG_CAPS with cap_offset 0), the decoder accepts both.
 */
export interface RegionInfoReply {
  argsz: number;
  /** VFIO_REGION_INFO_FLAG_READ | WRITE | MMAP | CAPS. */
  flags: number;
  index: number;
  size: bigint;
  /** Offset to pass to mmap() on the fd that comes with the reply (MMAP flag). */
  offset: bigint;
  caps: RegionCap[];
}

const request: BodyCodec<RegionInfoRequest> = {
  size: () => REGION_INFO_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.zeros(4, "flags");
    w.u32(v.index, "index");
    w.zeros(20, "cap_offset, size, offset");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    // libvfio-user's client sends its whole argsz-sized reply buffer as the request
    // body (the fixed part plus the room it reserved for capabilities), and
    // libvfio-user's server accepts that; only the fixed part means anything.
    r.expectAtLeast(REGION_INFO_SIZE);
    const argsz = r.u32("argsz");
    r.skip(4, "flags");
    const index = r.u32("index");
    r.skip(20, "cap_offset, size, offset");
    r.rest();
    expectArgsz(r, argsz, REGION_INFO_SIZE);
    return { argsz, index };
  },
};

function fail(message: string): never {
  throw new ProtocolError("EINVAL", `DEVICE_GET_REGION_INFO reply: ${message}`);
}

const reply: BodyCodec<RegionInfoReply> = {
  size(v) {
    if (!Array.isArray(v.caps)) fail("caps must be an array");
    if (v.caps.length === 0) {
      if (v.argsz < REGION_INFO_SIZE) fail(`argsz ${v.argsz} is below ${REGION_INFO_SIZE}`);
      return REGION_INFO_SIZE;
    }
    const size = REGION_INFO_SIZE + capsSize(v.caps);
    if ((v.flags & VFIO_REGION_INFO_FLAG_CAPS) === 0) fail("caps without FLAG_CAPS");
    if (v.argsz !== size) fail(`argsz ${v.argsz} does not match the ${size}-byte reply`);
    return size;
  },
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.flags, "flags");
    w.u32(v.index, "index");
    w.u32(v.caps.length > 0 ? REGION_INFO_SIZE : 0, "cap_offset");
    w.u64(v.size, "size");
    w.u64(v.offset, "offset");
    writeCaps(w, v.caps, REGION_INFO_SIZE);
  },
  read(r, ctx) {
    r.expectAtLeast(REGION_INFO_SIZE);
    const argsz = r.u32("argsz");
    const flags = r.u32("flags");
    const index = r.u32("index");
    const capOffset = r.u32("cap_offset");
    const v: RegionInfoReply = {
      argsz,
      flags,
      index,
      size: r.u64("size"),
      offset: r.u64("offset"),
      caps: [],
    };
    if (ctx.numFds > 1) r.fail(`${ctx.numFds} file descriptors, at most 1 allowed`);
    if (ctx.numFds === 1 && (flags & VFIO_REGION_INFO_FLAG_MMAP) === 0) {
      expectNoFds(r, ctx);
    }
    if (argsz < REGION_INFO_SIZE) r.fail(`argsz ${argsz} is below ${REGION_INFO_SIZE}`);
    if (argsz > r.length) {
      // Truncated reply: the client's argsz was too small; whatever follows is filler.
      r.rest();
      return v;
    }
    if (argsz < r.length) r.fail(`argsz ${argsz} is below the ${r.length}-byte body`);
    if ((flags & VFIO_REGION_INFO_FLAG_CAPS) !== 0 && capOffset !== 0) {
      v.caps = readCaps(r, capOffset, REGION_INFO_SIZE, argsz);
    }
    return v;
  },
};

/** Codec of VFIO_USER_DEVICE_GET_REGION_INFO. */
export const regionInfoCodec: CommandCodec<RegionInfoRequest, RegionInfoReply> = {
  request,
  reply,
  fitReply(requestArgsz, full) {
    if (requestArgsz < REGION_INFO_SIZE) {
      throw new ProtocolError("EINVAL", `DEVICE_GET_REGION_INFO: argsz ${requestArgsz} < 32`);
    }
    if (full.caps.length === 0) return { ...full, argsz: REGION_INFO_SIZE };
    const need = REGION_INFO_SIZE + capsSize(full.caps);
    if (requestArgsz >= need) {
      return { ...full, argsz: need, flags: (full.flags | VFIO_REGION_INFO_FLAG_CAPS) >>> 0 };
    }
    return {
      ...full,
      argsz: need,
      flags: (full.flags & ~VFIO_REGION_INFO_FLAG_CAPS) >>> 0,
      caps: [],
    };
  },
};
