import type { VfioError } from "../errors.js";
import type { Connection } from "./connection.js";
import type { Frame } from "./frame.js";
import type { Limits } from "./limits.js";

/** Options of a Connection: limits, timeouts, flow control and busy polling. */
export interface ConnectionOptions extends Partial<Limits> {
  /** Default reply timeout of `request()`, in ms; 0 (the default) waits forever. */
  requestTimeoutMs?: number;
  /** Receive slab size (see MessageReader); default 64 KiB. */
  slabSize?: number;
  /**
   * Opt-in busy polling: after each wake-up that brought messages, once they are
   * handled, spin up to this many µs on each socket for the peer's next message instead
   * of sleeping in the event loop (see BusyPoll). Lower round-trip latency for up to
   * this much CPU per message; an idle connection does not spin. Default 0 (off).
   */
  pollUs?: number;
  /**
   * Flow control. Once more than this many bytes wait to be sent, the connection stops
   * reading the peer until they have gone out, so a peer that sends without reading
   * makes us hold about this much (plus one receive's worth of replies) instead of
   * everything it sends. Default 1 MiB; 0 turns flow control off.
   */
  highWaterBytes?: number;
  /**
   * Our own requests and notifications fail with ENOBUFS while more than this many
   * bytes wait to be sent (the peer is not reading). Default 4 × highWaterBytes.
   */
  maxQueuedBytes?: number;
  /**
   * A peer that has not taken our queued bytes for this long while we stopped reading
   * it is stalled: the connection closes with ETIMEDOUT. Default 30 s; 0 waits forever.
   */
  stallTimeoutMs?: number;
  /**
   * A peer that sends part of a message and then nothing more for this long is broken
   * or hostile: the connection closes with ETIMEDOUT (see MessageReader). A peer idle
   * between messages is never timed out. Default 30 s; 0 waits forever.
   */
  partialMessageTimeoutMs?: number;
}

/** Fds to pass with a message, and whether the transport closes them once sent. */
export interface SendOptions {
  /** Descriptors to pass with the message (SCM_RIGHTS). They stay the caller's... */
  fds?: readonly number[];
  /** ...unless this is set: then the transport closes them once sent (or dropped). */
  closeFdsAfterSend?: boolean;
}

/** Options of one request: its fds and reply timeout. */
export interface RequestOptions extends SendOptions {
  /** Reply timeout for this request in ms, overriding the connection's; 0 = none. */
  timeoutMs?: number;
}

/**
 * Receives the peer's commands. The handler owns `frame.fds`, and must answer with
 * `reply()` or `replyError()` unless the command has NO_REPLY (replying to such a
 * command is a no-op, so handlers may reply unconditionally). The same message id
 * may be in use by several of the peer's commands at once: it identifies nothing but
 * the reply. A handler that throws closes the connection.
 */
export type RequestHandler = (frame: Frame, connection: Connection) => void;

/** Events of a Connection: close, and error before it. */
export interface ConnectionEvents {
  /** Once, after the connection closed; `err` is undefined for close() or a clean peer EOF. */
  close: [err: VfioError | undefined];
  /** Before 'close' when it closed because of an error; only emitted if someone listens. */
  error: [err: VfioError];
}

/** Our role in twin-socket mode decides which socket our own requests use. */
export type TwinRole = "server" | "client";
