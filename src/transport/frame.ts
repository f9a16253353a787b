import type { Header } from "../protocol/header.js";

/**
 * One vfio-user message as the transport moves it: the decoded 16-byte header, the
 * bytes after it, and the descriptors that travelled with it (SCM_RIGHTS).
 *
 * Ownership of `fds`: whoever takes a frame owns its fds and must close them (or hand
 * them on). The transport closes them itself only when nobody takes the frame: a
 * frame dropped because the connection broke mid-message, a late reply to a request
 * that already timed out, a reply nobody was waiting for, an error reply (the spec
 * allows only a header there), and a command that arrives while no handler is set.
 *
 * `body` of a received frame is a view into the reader's receive slab. The reader
 * never writes over bytes it has handed out, so the view stays valid and is the
 * receiver's to keep or even mutate; but a small view keeps its whole slab (64 KiB by
 * default) alive, so copy (`body.slice()`) what you store for long.
 */
export interface Frame {
  readonly header: Header;
  readonly body: Uint8Array;
  readonly fds: number[];
}

/** A message body to send: one buffer, or several sent back to back (no copy is made). */
export type Body = Uint8Array | readonly Uint8Array[];

/** The shared zero-length body of header-only messages (it cannot be written to). */
export const EMPTY_BODY: Uint8Array = new Uint8Array(0);

/** A shared empty fd list; never push into it. */
export const NO_FDS: number[] = [];

/** Total byte length of a body. */
export function bodyLength(body: Body): number {
  if (body instanceof Uint8Array) return body.byteLength;
  let n = 0;
  for (const chunk of body) n += chunk.byteLength;
  return n;
}
