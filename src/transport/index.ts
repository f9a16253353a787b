/**
 * The transport layer: framed vfio-user messages with fds over UNIX stream sockets.
 *
 * @module
 */

export { BusyPoll, checkPollUs, MAX_POLL_US } from "./busy-poll.js";
export { Connection } from "./connection.js";
export type {
  ConnectionEvents,
  ConnectionOptions,
  RequestHandler,
  RequestOptions,
  SendOptions,
  TwinRole,
} from "./connection-options.js";
export { type Body, bodyLength, EMPTY_BODY, type Frame } from "./frame.js";
export {
  checkLimits,
  DEFAULT_MAX_FDS,
  DEFAULT_MAX_MESSAGE_SIZE,
  type Limits,
  MAX_FDS_PER_MESSAGE,
} from "./limits.js";
export {
  type FrameSink,
  MessageReader,
  type ReaderOptions,
  type ReceivedFrame,
} from "./message-reader.js";
export { MessageWriter } from "./message-writer.js";
export { ReplyError } from "./reply-error.js";
