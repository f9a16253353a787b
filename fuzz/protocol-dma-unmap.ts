/**
 * Fuzz target: DMA_UNMAP request and reply, with and without the dirty bitmap. Besides
 * the re-encoding checks of commandTarget: a bitmap is present exactly when the flag
 * asks for it, a request's bitmap is large enough for the range at its page size, and a
 * reply's bitmap is as long as the body says.
 */
import {
  Command,
  type DmaUnmapReply,
  type DmaUnmapRequest,
  dirtyBitmapSize,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
} from "../src/protocol/index.js";
import { commandTarget } from "./lib/command-target.js";
import { InconsistentDecode } from "./lib/expect.js";

const BITMAP_AT = 40;

export const fuzz = commandTarget([Command.VFIO_USER_DMA_UNMAP], ({ reply, body, value }) => {
  const v = value as DmaUnmapRequest | DmaUnmapReply;
  const wantsBitmap = (v.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  if (wantsBitmap !== (v.bitmap !== undefined)) {
    throw new InconsistentDecode("bitmap presence does not follow the flag", v);
  }
  if (v.bitmap === undefined) return;
  if (reply) {
    const data = (v as DmaUnmapReply).bitmap!.data;
    if (data.byteLength !== body.byteLength - BITMAP_AT) {
      throw new InconsistentDecode("reply bitmap is not the rest of the body", v);
    }
    return;
  }
  const b = (v as DmaUnmapRequest).bitmap!;
  if (BigInt(b.size) < dirtyBitmapSize(v.size, b.pgsize)) {
    throw new InconsistentDecode("request bitmap too small for its range", v);
  }
});
