import type { Header } from "../../protocol/index.js";

/** Which way a message went: client to server or server to client. */
export type Direction = "c2s" | "s2c";

/** The socket a message used: the main one or the server-to-client twin socket. */
export type ChannelName = "main" | "twin";

/** One forwarded message, as the proxy observed it. */
export interface TraceRecord {
  /** Milliseconds since the proxy started. */
  readonly time: number;
  /** Number of the client connection (1, 2, ...). */
  readonly session: number;
  readonly channel: ChannelName;
  readonly direction: Direction;
  readonly header: Header;
  /** The body bytes as forwarded (a view: copy what you keep). */
  readonly body: Uint8Array;
  /** Number of fds that travelled with the message. */
  readonly fds: number;
  /** The decoded body, or undefined when decoding failed (see `decodeError`). */
  readonly decoded: unknown;
  readonly decodeError: string | undefined;
  /** For a reply: milliseconds since its request passed the other way. */
  readonly latencyMs: number | undefined;
}

/** Connection-level happenings, for the log. */
export interface SessionEvent {
  readonly time: number;
  readonly session: number;
  readonly kind: "open" | "close" | "error" | "twin";
  readonly message: string;
}
