import type { CommandId } from "./constants.js";
import { CODECS, type ReplyMap } from "./messages/index.js";

/**
 * argsz rules (spec "Message sizes"). A request's argsz is the largest reply payload the
 * client accepts; the decoders already reject one smaller than the fixed part of the
 * reply. A reply's argsz is the size the full reply needs; when that exceeds the client's
 * argsz the reply carries only its fixed part and the client retries with a larger one.
 */

/**
 * Server side: turn the full reply into the one to send for a request with
 * `requestArgsz`: argsz set to the full size (whatever `reply.argsz` said), and the
 * variable part (region caps, io-fd sub-regions, GET feature data) dropped when it does
 * not fit. Commands without argsz return `reply` unchanged. Throws ProtocolError when a
 * fixed-size reply, or a reply that cannot be truncated (DMA_UNMAP bitmap, SET/PROBE
 * feature echo, MIG_DATA_READ data), exceeds `requestArgsz`.
 */
export function fitReply<C extends CommandId>(
  command: C,
  requestArgsz: number,
  reply: ReplyMap[C],
): ReplyMap[C] {
  const fit = CODECS[command].fitReply as
    | ((argsz: number, r: ReplyMap[C]) => ReplyMap[C])
    | undefined;
  return fit ? fit(requestArgsz, reply) : reply;
}

/**
 * Client side: true when the server said the full reply needs more than the argsz we
 * sent, i.e. what came is only the fixed part; retry with argsz = reply.argsz.
 */
export function needsLargerBuffer(requestArgsz: number, reply: { argsz: number }): boolean {
  return reply.argsz > requestArgsz;
}

/** Whether the reply of `command` carries argsz (so fitReply and needsLargerBuffer apply). */
export function replyHasArgsz(command: CommandId): boolean {
  return CODECS[command].fitReply !== undefined;
}
