import { Errno, VfioError } from "../errors.js";
import {
  Command,
  type CommandId,
  commandLabel,
  type DecodedRequest,
  type RequestMap,
} from "../protocol/index.js";
import type { HandlerContext, Reply } from "./handlers/context.js";
import { dmaMap, dmaUnmap } from "./handlers/dma.js";
import { deviceFeature, migDataRead, migDataWrite } from "./handlers/feature.js";
import { deviceInfo, irqInfo, regionInfo, regionIoFds } from "./handlers/info.js";
import { setIrqs } from "./handlers/irqs.js";
import { regionRead, regionWrite, regionWriteMulti } from "./handlers/region-io.js";

/** How the server answers one command: a reply, or a VfioError (thrown or rejected). */
type Handler<C extends CommandId> = (
  ctx: HandlerContext,
  body: RequestMap[C],
) => Reply | Promise<Reply>;

const NO_BODY: Reply = {};

/** A command the server does not serve, and the errno the client gets for it. */
function refuse(errno: number, why: string): Handler<CommandId> {
  return () => {
    throw new VfioError(errno, why);
  };
}

/**
 * Every command of the protocol, and what the server does with it. The type has a key
 * for each member of `Command`: adding a command there without a line here fails to
 * compile, so no command can fall through to a wrong default answer.
 */
const HANDLERS: { readonly [C in CommandId]: Handler<C> } = {
  [Command.VFIO_USER_VERSION]: (ctx, body) => ctx.negotiate(body),
  [Command.VFIO_USER_DMA_MAP]: dmaMap,
  [Command.VFIO_USER_DMA_UNMAP]: dmaUnmap,
  [Command.VFIO_USER_DEVICE_GET_INFO]: deviceInfo,
  [Command.VFIO_USER_DEVICE_GET_REGION_INFO]: regionInfo,
  [Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS]: regionIoFds,
  [Command.VFIO_USER_DEVICE_GET_IRQ_INFO]: irqInfo,
  [Command.VFIO_USER_DEVICE_SET_IRQS]: setIrqs,
  [Command.VFIO_USER_REGION_READ]: regionRead,
  [Command.VFIO_USER_REGION_WRITE]: regionWrite,
  [Command.VFIO_USER_DMA_READ]: refuse(Errno.EINVAL, "DMA_READ goes from server to client"),
  [Command.VFIO_USER_DMA_WRITE]: refuse(Errno.EINVAL, "DMA_WRITE goes from server to client"),
  [Command.VFIO_USER_DEVICE_RESET]: (ctx) => ctx.core.reset().then(() => NO_BODY),
  [Command.VFIO_USER_REGION_WRITE_MULTI]: regionWriteMulti,
  [Command.VFIO_USER_DEVICE_FEATURE]: deviceFeature,
  [Command.VFIO_USER_MIG_DATA_READ]: migDataRead,
  [Command.VFIO_USER_MIG_DATA_WRITE]: migDataWrite,
};

/**
 * Runs the command's handler; throws (or rejects) with a VfioError for an error reply.
 * A promise only when the handler needs one. Nothing but VERSION before negotiation.
 */
export function dispatch(msg: DecodedRequest, ctx: HandlerContext): Reply | Promise<Reply> {
  if (ctx.negotiated === undefined && msg.command !== Command.VFIO_USER_VERSION) {
    throw new VfioError("EINVAL", `${commandLabel(msg.command)} before VERSION negotiation`);
  }
  // The table is indexed by the decoded command, so the body has that command's type.
  const handler = HANDLERS[msg.command] as Handler<typeof msg.command>;
  return (handler as (ctx: HandlerContext, body: unknown) => Reply | Promise<Reply>)(ctx, msg.body);
}
