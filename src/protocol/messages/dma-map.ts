import {
  type BodyCodec,
  type CommandCodec,
  dirtyBitmapSize,
  type EmptyBody,
  emptyBody,
  expectArgsz,
  expectNoFds,
  expectNoWrap,
  isPowerOfTwo,
} from "../codec.js";
import {
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
} from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import type { Reader } from "../reader.js";
import { checkBytes } from "../writer.js";

/** Body size of VFIO_USER_DMA_MAP, also the minimum argsz libvfio-user accepts. */
export const DMA_MAP_SIZE = 32;
/** Body size of VFIO_USER_DMA_UNMAP without a bitmap (struct vfio_iommu_type1_dma_unmap). */
export const DMA_UNMAP_SIZE = 24;
/** struct vfio_bitmap header that follows an unmap with GET_DIRTY_BITMAP. */
export const DMA_UNMAP_BITMAP_SIZE = 16;

/**
 * VFIO_USER_DMA_MAP request:
 *   0 argsz u32 | 4 flags u32 | 8 offset u64 | 16 address u64 | 24 size u64
 * The mmap-able fd, if any, travels with the message (0 or 1 fds), not in the body.
 */
export interface DmaMapRequest {
  argsz: number;
  /** VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE. */
  flags: number;
  /** File offset of the region in the fd (0 without fd). */
  offset: bigint;
  /** IOVA of the window. */
  address: bigint;
  size: bigint;
}

const MAP_FLAGS = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

const dmaMapRequest: BodyCodec<DmaMapRequest> = {
  size: () => DMA_MAP_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.flags, "flags");
    w.u64(v.offset, "offset");
    w.u64(v.address, "address");
    w.u64(v.size, "size");
  },
  read(r, ctx) {
    if (ctx.numFds > 1) r.fail(`${ctx.numFds} file descriptors, at most 1 allowed`);
    r.expectLength(DMA_MAP_SIZE);
    const v: DmaMapRequest = {
      argsz: r.u32("argsz"),
      flags: r.u32("flags"),
      offset: r.u64("offset"),
      address: r.u64("address"),
      size: r.u64("size"),
    };
    expectArgsz(r, v.argsz, DMA_MAP_SIZE);
    if ((v.flags & ~MAP_FLAGS) !== 0) r.fail(`unknown flags 0x${v.flags.toString(16)}`);
    expectNoWrap(r, v.address, v.size, "DMA window");
    expectNoWrap(r, v.offset, v.size, "file range");
    return v;
  },
};

/** Codec of VFIO_USER_DMA_MAP. */
export const dmaMapCodec: CommandCodec<DmaMapRequest, EmptyBody> = {
  request: dmaMapRequest,
  reply: emptyBody,
};

/**
 * VFIO_USER_DMA_UNMAP request:
 *   0 argsz u32 | 4 flags u32 | 8 address u64 | 16 size u64
 *   [GET_DIRTY_BITMAP: 24 bitmap.pgsize u64 | 32 bitmap.size u64]
 * FLAG_ALL unmaps everything and needs address = size = 0 (QEMU, kernel, libvfio-user);
 * it cannot be combined with GET_DIRTY_BITMAP. argsz must cover the reply, bitmap included.
 */
export interface DmaUnmapRequest {
  argsz: number;
  flags: number;
  address: bigint;
  size: bigint;
  /** Present iff flags has VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP. */
  bitmap?: { pgsize: bigint; size: number };
}

/**
 * VFIO_USER_DMA_UNMAP reply: the request's fields echoed, and with GET_DIRTY_BITMAP the
 * bitmap header followed by `bitmap.size` bytes of bitmap at offset 40.
 */
export interface DmaUnmapReply {
  argsz: number;
  flags: number;
  address: bigint;
  size: bigint;
  bitmap?: { pgsize: bigint; data: Uint8Array };
}

const UNMAP_FLAGS = VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
/** argsz is a u32, so no bitmap can be larger than this. */
const MAX_BITMAP = 0xffffffff - DMA_UNMAP_SIZE - DMA_UNMAP_BITMAP_SIZE;

function dirty(flags: number): boolean {
  return (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
}

function checkUnmapFields(r: Reader, flags: number, address: bigint, size: bigint): void {
  if ((flags & ~UNMAP_FLAGS) !== 0) r.fail(`unknown flags 0x${flags.toString(16)}`);
  if ((flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0) {
    if (dirty(flags)) r.fail("FLAG_ALL cannot be combined with GET_DIRTY_BITMAP");
    if (address !== 0n || size !== 0n) r.fail("FLAG_ALL needs address and size 0");
  }
  expectNoWrap(r, address, size, "DMA window");
}

function encodeFlagsConsistent(flags: number, hasBitmap: boolean): void {
  if (dirty(flags) !== hasBitmap) {
    throw new ProtocolError("EINVAL", "DMA_UNMAP: bitmap must be present iff GET_DIRTY_BITMAP");
  }
}

const dmaUnmapRequest: BodyCodec<DmaUnmapRequest> = {
  size(v) {
    encodeFlagsConsistent(v.flags, v.bitmap !== undefined);
    return DMA_UNMAP_SIZE + (v.bitmap ? DMA_UNMAP_BITMAP_SIZE : 0);
  },
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.flags, "flags");
    w.u64(v.address, "address");
    w.u64(v.size, "size");
    if (v.bitmap) {
      w.u64(v.bitmap.pgsize, "bitmap.pgsize");
      w.u64Number(v.bitmap.size, "bitmap.size");
    }
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectAtLeast(8);
    const argsz = r.u32("argsz");
    const flags = r.u32("flags");
    r.expectLength(DMA_UNMAP_SIZE + (dirty(flags) ? DMA_UNMAP_BITMAP_SIZE : 0));
    const v: DmaUnmapRequest = { argsz, flags, address: r.u64("address"), size: r.u64("size") };
    checkUnmapFields(r, flags, v.address, v.size);
    if (!dirty(flags)) {
      expectArgsz(r, argsz, DMA_UNMAP_SIZE);
      return v;
    }
    const pgsize = r.u64("bitmap.pgsize");
    const size = r.u64Number("bitmap.size", MAX_BITMAP);
    if (!isPowerOfTwo(pgsize)) r.fail(`bitmap.pgsize ${pgsize} is not a power of two`);
    if (v.size === 0n) r.fail("GET_DIRTY_BITMAP with size 0");
    const need = dirtyBitmapSize(v.size, pgsize);
    if (BigInt(size) < need) r.fail(`bitmap.size ${size} is below the ${need} bytes needed`);
    expectArgsz(r, argsz, DMA_UNMAP_SIZE + DMA_UNMAP_BITMAP_SIZE + size);
    v.bitmap = { pgsize, size };
    return v;
  },
};

function unmapReplySize(v: DmaUnmapReply): number {
  encodeFlagsConsistent(v.flags, v.bitmap !== undefined);
  if (!v.bitmap) return DMA_UNMAP_SIZE;
  return DMA_UNMAP_SIZE + DMA_UNMAP_BITMAP_SIZE + checkBytes(v.bitmap.data, "bitmap").byteLength;
}

const dmaUnmapReply: BodyCodec<DmaUnmapReply> = {
  size: unmapReplySize,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.flags, "flags");
    w.u64(v.address, "address");
    w.u64(v.size, "size");
    if (v.bitmap) {
      w.u64(v.bitmap.pgsize, "bitmap.pgsize");
      w.u64Number(v.bitmap.data.byteLength, "bitmap.size");
      w.bytes(v.bitmap.data, "bitmap.data");
    }
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectAtLeast(DMA_UNMAP_SIZE);
    const v: DmaUnmapReply = {
      argsz: r.u32("argsz"),
      flags: r.u32("flags"),
      address: r.u64("address"),
      size: r.u64("size"),
    };
    checkUnmapFields(r, v.flags, v.address, v.size);
    if (dirty(v.flags)) {
      const pgsize = r.u64("bitmap.pgsize");
      const size = r.u64Number("bitmap.size", MAX_BITMAP);
      r.expectLength(DMA_UNMAP_SIZE + DMA_UNMAP_BITMAP_SIZE + size);
      v.bitmap = { pgsize, data: r.bytes(size, "bitmap.data") };
    }
    // libvfio-user echoes the request's argsz, which may exceed what was needed.
    if (v.argsz < r.length) r.fail(`argsz ${v.argsz} is below the ${r.length}-byte body`);
    return v;
  },
};

/** Codec of VFIO_USER_DMA_UNMAP. */
export const dmaUnmapCodec: CommandCodec<DmaUnmapRequest, DmaUnmapReply> = {
  request: dmaUnmapRequest,
  reply: dmaUnmapReply,
  fitReply(requestArgsz, reply) {
    const need = unmapReplySize(reply);
    if (requestArgsz < need) {
      // The request decoder already refuses such an argsz, as the kernel and libvfio-user do.
      throw new ProtocolError("EINVAL", `DMA_UNMAP: argsz ${requestArgsz} < reply ${need}`);
    }
    if (reply.argsz === need) return reply;
    const fitted: DmaUnmapReply = {
      argsz: need,
      flags: reply.flags,
      address: reply.address,
      size: reply.size,
    };
    if (reply.bitmap !== undefined) fitted.bitmap = reply.bitmap;
    return fitted;
  },
};
