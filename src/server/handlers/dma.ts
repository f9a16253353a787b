import { VfioError } from "../../errors.js";
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
 * waits until no device access uses the memory any more. Dirty-page bitmaps are not
 * supported (EOPNOTSUPP): we offer no migration.
 */
export function dmaUnmap(ctx: HandlerContext, req: DmaUnmapRequest): Reply | Promise<Reply> {
  if (req.bitmap !== undefined) {
    throw new VfioError("EOPNOTSUPP", "DMA_UNMAP: dirty page tracking is not supported");
  }
  const all = (req.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const released = all ? ctx.core.dma.unmapAll() : ctx.core.dma.unmap(req.address, req.size);
  return released === undefined
    ? dmaUnmapReply(ctx, req)
    : released.then(() => dmaUnmapReply(ctx, req));
}

function dmaUnmapReply(ctx: HandlerContext, req: DmaUnmapRequest): Reply {
  if (ctx.verbose) {
    const what =
      (req.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0
        ? "all"
        : `[0x${req.address.toString(16)}, +0x${req.size.toString(16)})`;
    ctx.log.debug(`DMA_UNMAP ${what}`);
  }
  const reply = fitReply(Command.VFIO_USER_DMA_UNMAP, req.argsz, {
    argsz: 24,
    flags: req.flags,
    address: req.address,
    size: req.size,
  });
  return { body: encodeReply(Command.VFIO_USER_DMA_UNMAP, reply) };
}
