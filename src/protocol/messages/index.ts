import {
  type CommandCodec,
  type DecodeContext,
  decodeBody,
  decodeContext,
  type EmptyBody,
  type EncodeOptions,
  encodeBody,
} from "../codec.js";
import {
  Command,
  type CommandId,
  commandLabel,
  commandName,
  isKnownCommand,
} from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import {
  type DeviceFeatureReply,
  type DeviceFeatureRequest,
  deviceFeatureCodec,
} from "./device-feature.js";
import { type DeviceInfoReply, type DeviceInfoRequest, deviceInfoCodec } from "./device-info.js";
import { deviceResetCodec } from "./device-reset.js";
import {
  type DmaMapRequest,
  type DmaUnmapReply,
  type DmaUnmapRequest,
  dmaMapCodec,
  dmaUnmapCodec,
} from "./dma-map.js";
import {
  type DmaReadReply,
  type DmaReadRequest,
  type DmaWriteReply,
  type DmaWriteRequest,
  dmaReadCodec,
  dmaWriteCodec,
} from "./dma-rw.js";
import { type IrqInfoReply, type IrqInfoRequest, irqInfoCodec } from "./irq-info.js";
import {
  type MigDataReadReply,
  type MigDataReadRequest,
  type MigDataWriteRequest,
  migDataReadCodec,
  migDataWriteCodec,
} from "./mig-data.js";
import { type RegionInfoReply, type RegionInfoRequest, regionInfoCodec } from "./region-info.js";
import {
  type RegionIoFdsReply,
  type RegionIoFdsRequest,
  regionIoFdsCodec,
} from "./region-io-fds.js";
import {
  type RegionReadReply,
  type RegionReadRequest,
  type RegionWriteReply,
  type RegionWriteRequest,
  regionReadCodec,
  regionWriteCodec,
} from "./region-rw.js";
import {
  type RegionWriteMultiReply,
  type RegionWriteMultiRequest,
  regionWriteMultiCodec,
} from "./region-write-multi.js";
import { type SetIrqsRequest, setIrqsCodec } from "./set-irqs.js";
import { type VersionMessage, versionCodec } from "./version.js";

/** Request body type of each command. */
export interface RequestMap {
  [Command.VFIO_USER_VERSION]: VersionMessage;
  [Command.VFIO_USER_DMA_MAP]: DmaMapRequest;
  [Command.VFIO_USER_DMA_UNMAP]: DmaUnmapRequest;
  [Command.VFIO_USER_DEVICE_GET_INFO]: DeviceInfoRequest;
  [Command.VFIO_USER_DEVICE_GET_REGION_INFO]: RegionInfoRequest;
  [Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS]: RegionIoFdsRequest;
  [Command.VFIO_USER_DEVICE_GET_IRQ_INFO]: IrqInfoRequest;
  [Command.VFIO_USER_DEVICE_SET_IRQS]: SetIrqsRequest;
  [Command.VFIO_USER_REGION_READ]: RegionReadRequest;
  [Command.VFIO_USER_REGION_WRITE]: RegionWriteRequest;
  [Command.VFIO_USER_DMA_READ]: DmaReadRequest;
  [Command.VFIO_USER_DMA_WRITE]: DmaWriteRequest;
  [Command.VFIO_USER_DEVICE_RESET]: EmptyBody;
  [Command.VFIO_USER_REGION_WRITE_MULTI]: RegionWriteMultiRequest;
  [Command.VFIO_USER_DEVICE_FEATURE]: DeviceFeatureRequest;
  [Command.VFIO_USER_MIG_DATA_READ]: MigDataReadRequest;
  [Command.VFIO_USER_MIG_DATA_WRITE]: MigDataWriteRequest;
}

/** Reply body type of each command (error replies have no body at all). */
export interface ReplyMap {
  [Command.VFIO_USER_VERSION]: VersionMessage;
  [Command.VFIO_USER_DMA_MAP]: EmptyBody;
  [Command.VFIO_USER_DMA_UNMAP]: DmaUnmapReply;
  [Command.VFIO_USER_DEVICE_GET_INFO]: DeviceInfoReply;
  [Command.VFIO_USER_DEVICE_GET_REGION_INFO]: RegionInfoReply;
  [Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS]: RegionIoFdsReply;
  [Command.VFIO_USER_DEVICE_GET_IRQ_INFO]: IrqInfoReply;
  [Command.VFIO_USER_DEVICE_SET_IRQS]: EmptyBody;
  [Command.VFIO_USER_REGION_READ]: RegionReadReply;
  [Command.VFIO_USER_REGION_WRITE]: RegionWriteReply;
  [Command.VFIO_USER_DMA_READ]: DmaReadReply;
  [Command.VFIO_USER_DMA_WRITE]: DmaWriteReply;
  [Command.VFIO_USER_DEVICE_RESET]: EmptyBody;
  [Command.VFIO_USER_REGION_WRITE_MULTI]: RegionWriteMultiReply;
  [Command.VFIO_USER_DEVICE_FEATURE]: DeviceFeatureReply;
  [Command.VFIO_USER_MIG_DATA_READ]: MigDataReadReply;
  [Command.VFIO_USER_MIG_DATA_WRITE]: EmptyBody;
}

type CodecTable = { [C in CommandId]: CommandCodec<RequestMap[C], ReplyMap[C]> };

/** command id -> codec of its request and reply bodies. */
export const CODECS: CodecTable = {
  [Command.VFIO_USER_VERSION]: versionCodec,
  [Command.VFIO_USER_DMA_MAP]: dmaMapCodec,
  [Command.VFIO_USER_DMA_UNMAP]: dmaUnmapCodec,
  [Command.VFIO_USER_DEVICE_GET_INFO]: deviceInfoCodec,
  [Command.VFIO_USER_DEVICE_GET_REGION_INFO]: regionInfoCodec,
  [Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS]: regionIoFdsCodec,
  [Command.VFIO_USER_DEVICE_GET_IRQ_INFO]: irqInfoCodec,
  [Command.VFIO_USER_DEVICE_SET_IRQS]: setIrqsCodec,
  [Command.VFIO_USER_REGION_READ]: regionReadCodec,
  [Command.VFIO_USER_REGION_WRITE]: regionWriteCodec,
  [Command.VFIO_USER_DMA_READ]: dmaReadCodec,
  [Command.VFIO_USER_DMA_WRITE]: dmaWriteCodec,
  [Command.VFIO_USER_DEVICE_RESET]: deviceResetCodec,
  [Command.VFIO_USER_REGION_WRITE_MULTI]: regionWriteMultiCodec,
  [Command.VFIO_USER_DEVICE_FEATURE]: deviceFeatureCodec,
  [Command.VFIO_USER_MIG_DATA_READ]: migDataReadCodec,
  [Command.VFIO_USER_MIG_DATA_WRITE]: migDataWriteCodec,
};

/** The four body functions of one command. */
export interface MessageCodec<Req, Rep> {
  /** Decodes a request body; throws ProtocolError on anything malformed. */
  decodeRequest(body: Uint8Array, ctx?: Partial<DecodeContext>): Req;
  /** Encodes a request body. */
  encodeRequest(v: Req, o?: EncodeOptions): Uint8Array;
  /** Decodes a reply body; throws ProtocolError on anything malformed. */
  decodeReply(body: Uint8Array, ctx?: Partial<DecodeContext>): Rep;
  /** Encodes a reply body. */
  encodeReply(v: Rep, o?: EncodeOptions): Uint8Array;
}

function commandCodec<C extends CommandId>(command: C): CommandCodec<RequestMap[C], ReplyMap[C]> {
  if (!isKnownCommand(command)) {
    throw new ProtocolError("ENOSYS", `unknown command ${commandName(command)}`);
  }
  return CODECS[command] as CommandCodec<RequestMap[C], ReplyMap[C]>;
}

function context(ctx: Partial<DecodeContext> | undefined): DecodeContext {
  return decodeContext(ctx?.numFds ?? 0, ctx);
}

/** Encode a request body (no header). */
export function encodeRequest<C extends CommandId>(
  command: C,
  v: RequestMap[C],
  o: EncodeOptions = {},
): Uint8Array {
  return encodeBody(commandCodec(command).request, v, o);
}

/** Encode a reply body (no header). */
export function encodeReply<C extends CommandId>(
  command: C,
  v: ReplyMap[C],
  o: EncodeOptions = {},
): Uint8Array {
  return encodeBody(commandCodec(command).reply, v, o);
}

/** Decode a request body (the bytes after the header); `ctx.numFds` defaults to 0. */
export function decodeRequest<C extends CommandId>(
  command: C,
  body: Uint8Array,
  ctx?: Partial<DecodeContext>,
): RequestMap[C] {
  const codec = commandCodec(command);
  return decodeBody(codec.request, commandLabel(command), "request", body, context(ctx));
}

/** Decode a (non-error) reply body. */
export function decodeReply<C extends CommandId>(
  command: C,
  body: Uint8Array,
  ctx?: Partial<DecodeContext>,
): ReplyMap[C] {
  const codec = commandCodec(command);
  return decodeBody(codec.reply, commandLabel(command), "reply", body, context(ctx));
}

/** The encode/decode functions of one command. Throws ProtocolError(ENOSYS) if unknown. */
export function codecFor<C extends CommandId>(
  command: C,
): MessageCodec<RequestMap[C], ReplyMap[C]> {
  commandCodec(command);
  return {
    decodeRequest: (body, ctx) => decodeRequest(command, body, ctx),
    encodeRequest: (v, o) => encodeRequest(command, v, o),
    decodeReply: (body, ctx) => decodeReply(command, body, ctx),
    encodeReply: (v, o) => encodeReply(command, v, o),
  };
}
