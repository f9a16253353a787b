import { getU16, getU32, setU16, setU32 } from "../le.js";
import {
  HEADER_SIZE,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_COMMAND,
  VFIO_USER_F_TYPE_MASK,
  VFIO_USER_F_TYPE_REPLY,
} from "./constants.js";
import { ProtocolError } from "./protocol-error.js";

/** The 16-byte header in front of every vfio-user message (spec "Header"). */
export interface Header {
  /** Message ID, echoed in the reply. 16 bits. */
  id: number;
  /** Command id (also set in replies). 16 bits. */
  command: number;
  /** Size of the whole message including this header. 32 bits. */
  size: number;
  /** Raw flags word (type in bits 0-3, NO_REPLY bit 4, ERROR bit 5). */
  flags: number;
  /** errno of an error reply; reserved (0) in commands. */
  error: number;
}

/** Whether the header's type is a reply. */
export function isReply(h: Header): boolean {
  return (h.flags & VFIO_USER_F_TYPE_MASK) === VFIO_USER_F_TYPE_REPLY;
}
/** Whether the header's type is a command. */
export function isCommand(h: Header): boolean {
  return (h.flags & VFIO_USER_F_TYPE_MASK) === VFIO_USER_F_TYPE_COMMAND;
}
/** Whether the sender set NO_REPLY (a posted message). */
export function wantsNoReply(h: Header): boolean {
  return (h.flags & VFIO_USER_F_NO_REPLY) !== 0;
}
/** Whether the reply carries an errno (the ERROR flag). */
export function isErrorReply(h: Header): boolean {
  return (h.flags & VFIO_USER_F_ERROR) !== 0;
}

/**
 * A message size the header may carry: at least the header itself. The transport
 * calls this as soon as the size is known (it frames by it), decodeHeader again.
 * A violation is EPROTO: no reply can be addressed inside a stream that lost framing.
 */
export function checkMessageSize(size: number): void {
  if (size < HEADER_SIZE) {
    throw new ProtocolError(
      "EPROTO",
      `framing violation: message size ${size} is less than the 16-byte header`,
    );
  }
}

/**
 * The message size of a (possibly partial) message at `buf[offset..]`, which must
 * hold at least 8 bytes. Does not validate it (see checkMessageSize).
 */
export function peekMessageSize(buf: Uint8Array, offset = 0): number {
  return getU32(buf, offset + 4);
}

/**
 * Decode the header at `buf[offset..offset+16)`: the one header decoder, used by the
 * transport on every received message and by decodeMessage. Validates what the
 * header alone can tell, each fault with EPROTO (the stream cannot be trusted past
 * it): 16 bytes present, the size covers the header, the type is command or reply.
 */
export function decodeHeader(buf: Uint8Array, offset = 0): Header {
  if (buf.byteLength - offset < HEADER_SIZE) {
    throw new ProtocolError(
      "EPROTO",
      `message of ${buf.byteLength - offset} bytes is shorter than the 16-byte header`,
    );
  }
  const id = getU16(buf, offset);
  const size = getU32(buf, offset + 4);
  checkMessageSize(size);
  const flags = getU32(buf, offset + 8);
  const type = flags & VFIO_USER_F_TYPE_MASK;
  if (type !== VFIO_USER_F_TYPE_COMMAND && type !== VFIO_USER_F_TYPE_REPLY) {
    throw new ProtocolError(
      "EPROTO",
      `protocol violation: message id ${id} has type ${type}, neither command nor reply`,
    );
  }
  return { id, command: getU16(buf, offset + 2), size, flags, error: getU32(buf, offset + 12) };
}

/** Write a header into `buf[0..16)`. */
export function encodeHeader(buf: Uint8Array, h: Header): void {
  writeHeader(buf, h.id, h.command, h.size, h.flags, h.error);
}

/**
 * Write the header fields into `b[0..16)`, little-endian, each truncated to its width:
 * the one header encoder, also used directly by the transport's writer (no object).
 */
export function writeHeader(
  b: Uint8Array,
  id: number,
  command: number,
  size: number,
  flags: number,
  error: number,
): void {
  setU16(b, 0, id & 0xffff);
  setU16(b, 2, command & 0xffff);
  setU32(b, 4, size >>> 0);
  setU32(b, 8, flags >>> 0);
  setU32(b, 12, error >>> 0);
}
