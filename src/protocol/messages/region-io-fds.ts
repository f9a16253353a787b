import { type BodyCodec, type CommandCodec, expectArgsz, expectNoFds } from "../codec.js";
import {
  VFIO_USER_IO_FD_TYPE_IOEVENTFD,
  VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW,
  VFIO_USER_IO_FD_TYPE_IOREGIONFD,
} from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import { Reader } from "../reader.js";
import type { Writer } from "../writer.js";

/** Size of the request and of the reply's fixed part. */
export const REGION_IO_FDS_SIZE = 16;
/** Sub-region entry size in the spec (both types). */
export const SUB_REGION_SIZE = 40;
/** libvfio-user's vfio_user_sub_region_ioeventfd, with shadow fields: its stride for all. */
export const SUB_REGION_SIZE_LIBVFIO_USER = 48;

/**
 * VFIO_USER_DEVICE_GET_REGION_IO_FDS request:
 *   0 argsz u32 | 4 flags u32 (must be 0) | 8 index u32 | 12 count u32 (must be 0)
 */
export interface RegionIoFdsRequest {
  argsz: number;
  index: number;
}

interface SubRegionBase {
  /** Start within the region. */
  offset: bigint;
  /** Length; 0 means "any access size". */
  size: bigint;
  /** Index into the fds that came with the reply; may be shared. */
  fdIndex: number;
  /** KVM_IOEVENTFD_FLAG_* or KVM_IOREGION_*. */
  flags: number;
}

/**
 * One sub-region. Spec layout (40 bytes): 0 offset u64 | 8 size u64 | 16 fd_index u32 |
 * 20 type u32 | 24 flags u32 | 28 padding u32 | 32 datamatch or user_data u64.
 * libvfio-user uses 48-byte entries: 28 shadow_mem_fd_index u32 | 32 shadow_offset u64 |
 * 40 datamatch u64, and type 2 (IOEVENTFD_SHADOW); entries of that stride are read so.
 */
export type SubRegionIoFd =
  | (SubRegionBase & { type: typeof VFIO_USER_IO_FD_TYPE_IOEVENTFD; datamatch: bigint })
  | (SubRegionBase & { type: typeof VFIO_USER_IO_FD_TYPE_IOREGIONFD; userData: bigint })
  | (SubRegionBase & {
      type: typeof VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW;
      datamatch: bigint;
      shadowFdIndex: number;
      shadowOffset: bigint;
    });

/**
 * VFIO_USER_DEVICE_GET_REGION_IO_FDS reply:
 *   0 argsz u32 | 4 flags u32 (0) | 8 index u32 | 12 count u32 | 16 sub-regions
 * Entry i is at 16 + i * ((argsz - 16) / count). When argsz exceeds the body the client's
 * argsz was too small: `count` says how many there are, `subRegions` is empty, no fds.
 */
export interface RegionIoFdsReply {
  argsz: number;
  index: number;
  count: number;
  subRegions: SubRegionIoFd[];
}

const request: BodyCodec<RegionIoFdsRequest> = {
  size: () => REGION_IO_FDS_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.zeros(4, "flags");
    w.u32(v.index, "index");
    w.zeros(4, "count");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectLength(REGION_IO_FDS_SIZE);
    const argsz = r.u32("argsz");
    const flags = r.u32("flags");
    const index = r.u32("index");
    const count = r.u32("count");
    if (flags !== 0 || count !== 0) r.fail("flags and count must be zero");
    expectArgsz(r, argsz, REGION_IO_FDS_SIZE);
    return { argsz, index };
  },
};

function strideOf(subs: readonly SubRegionIoFd[]): number {
  return subs.some((s) => s.type === VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW)
    ? SUB_REGION_SIZE_LIBVFIO_USER
    : SUB_REGION_SIZE;
}

function fullSize(subs: readonly SubRegionIoFd[]): number {
  return REGION_IO_FDS_SIZE + subs.length * strideOf(subs);
}

function fail(message: string): never {
  throw new ProtocolError("EINVAL", `DEVICE_GET_REGION_IO_FDS reply: ${message}`);
}

function writeSub(w: Writer, s: SubRegionIoFd, stride: number): void {
  w.u64(s.offset, "offset");
  w.u64(s.size, "size");
  w.u32(s.fdIndex, "fd_index");
  w.u32(s.type, "type");
  w.u32(s.flags, "flags");
  if (s.type === VFIO_USER_IO_FD_TYPE_IOREGIONFD) {
    w.zeros(4, "padding");
    w.u64(s.userData, "user_data");
    w.zeros(stride - SUB_REGION_SIZE, "padding");
  } else if (stride === SUB_REGION_SIZE_LIBVFIO_USER) {
    const shadow = s.type === VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW;
    w.u32(shadow ? s.shadowFdIndex : 0, "shadow_mem_fd_index");
    w.u64(shadow ? s.shadowOffset : 0n, "shadow_offset");
    w.u64(s.datamatch, "datamatch");
  } else if (s.type === VFIO_USER_IO_FD_TYPE_IOEVENTFD) {
    w.zeros(4, "padding");
    w.u64(s.datamatch, "datamatch");
  } else {
    fail(`unknown sub-region type ${(s as { type: unknown }).type}`);
  }
}

function readSub(body: Uint8Array, stride: number, numFds: number, what: string): SubRegionIoFd {
  const r = new Reader(body, what);
  const base = {
    offset: r.u64("offset"),
    size: r.u64("size"),
    fdIndex: r.u32("fd_index"),
  };
  const type = r.u32("type");
  const flags = r.u32("flags");
  if (base.fdIndex >= numFds) r.fail(`fd_index ${base.fdIndex} but ${numFds} fds came`);
  if (type === VFIO_USER_IO_FD_TYPE_IOREGIONFD) {
    r.skip(4, "padding");
    return { ...base, flags, type: VFIO_USER_IO_FD_TYPE_IOREGIONFD, userData: r.u64("user_data") };
  }
  if (type !== VFIO_USER_IO_FD_TYPE_IOEVENTFD && type !== VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW) {
    r.fail(`unknown sub-region type ${type}`);
  }
  const shadow = type === VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW;
  if (stride !== SUB_REGION_SIZE_LIBVFIO_USER) {
    if (shadow) r.fail("shadow ioeventfd in a spec entry");
    r.skip(4, "padding");
    return { ...base, flags, type: VFIO_USER_IO_FD_TYPE_IOEVENTFD, datamatch: r.u64("datamatch") };
  }
  const shadowFdIndex = r.u32("shadow_mem_fd_index");
  const shadowOffset = r.u64("shadow_offset");
  const datamatch = r.u64("datamatch");
  if (!shadow) return { ...base, flags, type: VFIO_USER_IO_FD_TYPE_IOEVENTFD, datamatch };
  if (shadowFdIndex >= numFds) r.fail(`shadow fd index ${shadowFdIndex} but ${numFds} fds`);
  return {
    ...base,
    flags,
    type: VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW,
    datamatch,
    shadowFdIndex,
    shadowOffset,
  };
}

const reply: BodyCodec<RegionIoFdsReply> = {
  size(v) {
    if (!Array.isArray(v.subRegions)) fail("subRegions must be an array");
    const size = fullSize(v.subRegions);
    if (v.subRegions.length > 0) {
      if (v.count !== v.subRegions.length) fail(`count ${v.count} != ${v.subRegions.length}`);
      if (v.argsz !== size) fail(`argsz ${v.argsz} does not match the ${size}-byte reply`);
    } else if (v.argsz < REGION_IO_FDS_SIZE || (v.count > 0 && v.argsz === REGION_IO_FDS_SIZE)) {
      fail(`argsz ${v.argsz} cannot describe ${v.count} omitted sub-regions`);
    }
    return size;
  },
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.zeros(4, "flags");
    w.u32(v.index, "index");
    w.u32(v.count, "count");
    const stride = strideOf(v.subRegions);
    for (const s of v.subRegions) writeSub(w, s, stride);
  },
  read(r, ctx) {
    r.expectAtLeast(REGION_IO_FDS_SIZE);
    const argsz = r.u32("argsz");
    const flags = r.u32("flags");
    const v: RegionIoFdsReply = {
      argsz,
      index: r.u32("index"),
      count: r.u32("count"),
      subRegions: [],
    };
    if (flags !== 0) r.fail(`flags 0x${flags.toString(16)} must be zero`);
    if (argsz < REGION_IO_FDS_SIZE) r.fail(`argsz ${argsz} is below ${REGION_IO_FDS_SIZE}`);
    if (argsz > r.length) {
      expectNoFds(r, ctx);
      r.rest();
      return v;
    }
    if (argsz < r.length) r.fail(`argsz ${argsz} is below the ${r.length}-byte body`);
    if (v.count === 0) {
      expectNoFds(r, ctx);
      return v;
    }
    const bytes = argsz - REGION_IO_FDS_SIZE;
    if (bytes % v.count !== 0) r.fail(`${bytes} bytes do not divide into ${v.count} entries`);
    const stride = bytes / v.count;
    if (stride < SUB_REGION_SIZE) r.fail(`entry size ${stride} is below ${SUB_REGION_SIZE}`);
    if (ctx.numFds === 0) r.fail("sub-regions but no file descriptors");
    for (let i = 0; i < v.count; i++) {
      const body = r.bytes(stride, `sub-region ${i}`);
      v.subRegions.push(readSub(body, stride, ctx.numFds, `${r.what} sub-region ${i}`));
    }
    return v;
  },
};

/** Codec of VFIO_USER_DEVICE_GET_REGION_IO_FDS. */
export const regionIoFdsCodec: CommandCodec<RegionIoFdsRequest, RegionIoFdsReply> = {
  request,
  reply,
  fitReply(requestArgsz, full) {
    if (requestArgsz < REGION_IO_FDS_SIZE) {
      throw new ProtocolError("EINVAL", `DEVICE_GET_REGION_IO_FDS: argsz ${requestArgsz} < 16`);
    }
    const need = fullSize(full.subRegions);
    const count = full.subRegions.length;
    if (requestArgsz >= need) return { ...full, argsz: need, count };
    return { ...full, argsz: need, count, subRegions: [] };
  },
};
