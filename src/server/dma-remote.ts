import { VfioError } from "../errors.js";
import { Command, type DmaRwLayout, decodeReply, encodeRequest } from "../protocol/index.js";
import { closeFdsQuietly } from "../sys/index.js";
import type { Connection } from "../transport/index.js";
import type { DmaRemote } from "./dma.js";

/**
 * Server-to-client requests: DMA_READ / DMA_WRITE on `conn`, for the windows the client
 * mapped without an fd. `maxXfer` is the client's max_data_xfer_size.
 */
export function dmaRemote(conn: Connection, layout: DmaRwLayout, maxXfer: number): DmaRemote {
  return {
    maxXfer,
    async read(iova, count) {
      const f = await conn.request(
        Command.VFIO_USER_DMA_READ,
        encodeRequest(
          Command.VFIO_USER_DMA_READ,
          { address: iova, count },
          { dmaRwLayout: layout },
        ),
      );
      closeFdsQuietly(f.fds);
      const r = decodeReply(Command.VFIO_USER_DMA_READ, f.body, {
        numFds: f.fds.length,
        dmaRwLayout: layout,
      });
      if (r.address !== iova || r.data.byteLength !== count) {
        throw new VfioError(
          "EIO",
          `DMA_READ reply for 0x${iova.toString(16)}+${count} describes 0x${r.address.toString(16)}+${r.data.byteLength}`,
        );
      }
      return r.data;
    },
    async write(iova, data) {
      const f = await conn.request(
        Command.VFIO_USER_DMA_WRITE,
        encodeRequest(
          Command.VFIO_USER_DMA_WRITE,
          { address: iova, data },
          { dmaRwLayout: layout },
        ),
      );
      closeFdsQuietly(f.fds);
    },
  };
}
