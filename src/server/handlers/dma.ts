import {
  Command,
  type DmaMapRequest,
  type DmaUnmapRequest,
  encodeReply,
  fitReply,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
} from "../../protocol/index.js";
import type { HandlerContext, Reply } from "./context.js";

/** DMA_MAP: with an fd the window is mmapped at once (and the fd closed); without, messages. */
export function dmaMap(ctx: HandlerContext, req: DmaMapRequest): Reply {
  const [fd] = ctx.takeFds();
  const w = ctx.core.dma.map({
    iova: req.address,
    size: req.size,
    readable: (req.flags & VFIO_DMA_MAP_FLAG_READ) !== 0,
    writable: (req.flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0,
    offset: req.offset,
    fd,
  });
  if (ctx.verbose) {
    ctx.log.debug(
      `DMA_MAP [0x${w.iova.toString(16)}, +0x${w.size.toString(16)}) ${w.readable ? "r" : "-"}${w.writable ? "w" : "-"} ${w.mapped ? "mmapped" : "via messages"}`,
    );
  }
  return {};
}

/**
 * DMA_UNMAP of exactly one earlier mapping, or of everything with FLAG_ALL. The reply
 * waits until no device access uses the memory any more. With GET_DIRTY_BITMAP the
 * reply carries the window's dirty pages since the last report (DMA logging must be on).
 */
export function dmaUnmap(ctx: HandlerContext, req: DmaUnmapRequest): Reply | Promise<Reply> {
  const dirty =
    req.bitmap === undefined
      ? undefined
      : {
          pgsize: req.bitmap.pgsize,
          data: padTo(
            ctx.core.dma.unmapDirty(req.address, req.size, req.bitmap.pgsize),
            req.bitmap.size,
          ),
        };
  const all = (req.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const released = all ? ctx.core.dma.unmapAll() : ctx.core.dma.unmap(req.address, req.size);
  return released === undefined
    ? dmaUnmapReply(ctx, req, dirty)
    : released.then(() => dmaUnmapReply(ctx, req, dirty));
}

function dmaUnmapReply(
  ctx: HandlerContext,
  req: DmaUnmapRequest,
  bitmap: { pgsize: bigint; data: Uint8Array } | undefined,
): Reply {
  if (ctx.verbose) {
    const what =
      (req.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0
        ? "all"
        : `[0x${req.address.toString(16)}, +0x${req.size.toString(16)})`;
    ctx.log.debug(`DMA_UNMAP ${what}`);
  }
  const reply = fitReply(Command.VFIO_USER_DMA_UNMAP, req.argsz, {
    argsz: 24 + (bitmap ? 16 + bitmap.data.byteLength : 0),
    flags: req.flags,
    address: req.address,
    size: req.size,
    bitmap,
  });
  return { body: encodeReply(Command.VFIO_USER_DMA_UNMAP, reply) };
}

/** The client's bitmap buffer may be larger than the bits need; it gets all of it back. */
function padTo(bitmap: Uint8Array, size: number): Uint8Array {
  if (bitmap.byteLength >= size) return bitmap;
  const out = new Uint8Array(size);
  out.set(bitmap);
  return out;
}
