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

export function isReply(h: Header): boolean {
  return (h.flags & VFIO_USER_F_TYPE_MASK) === VFIO_USER_F_TYPE_REPLY;
}
export function isCommand(h: Header): boolean {
  return (h.flags & VFIO_USER_F_TYPE_MASK) === VFIO_USER_F_TYPE_COMMAND;
}
export function wantsNoReply(h: Header): boolean {
  return (h.flags & VFIO_USER_F_NO_REPLY) !== 0;
}
export function isErrorReply(h: Header): boolean {
  return (h.flags & VFIO_USER_F_ERROR) !== 0;
}

/**
 * Decode the header at `buf[0..16)`. Validates only what the header alone can tell:
 * the size covers at least the header and the type is command or reply.
 */
export function decodeHeader(buf: Uint8Array): Header {
  if (buf.byteLength < HEADER_SIZE) {
    throw new ProtocolError(
      "EINVAL",
      `message of ${buf.byteLength} bytes is shorter than the 16-byte header`,
    );
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  const h: Header = {
    id: dv.getUint16(0, true),
    command: dv.getUint16(2, true),
    size: dv.getUint32(4, true),
    flags: dv.getUint32(8, true),
    error: dv.getUint32(12, true),
  };
  if (h.size < HEADER_SIZE) {
    throw new ProtocolError("EINVAL", `header message size ${h.size} is less than 16`);
  }
  const type = h.flags & VFIO_USER_F_TYPE_MASK;
  if (type !== VFIO_USER_F_TYPE_COMMAND && type !== VFIO_USER_F_TYPE_REPLY) {
    throw new ProtocolError("EINVAL", `header message type ${type} is neither command nor reply`);
  }
  return h;
}

/** Write a header into `buf[0..16)`. */
export function encodeHeader(buf: Uint8Array, h: Header): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  dv.setUint16(0, h.id & 0xffff, true);
  dv.setUint16(2, h.command & 0xffff, true);
  dv.setUint32(4, h.size >>> 0, true);
  dv.setUint32(8, h.flags >>> 0, true);
  dv.setUint32(12, h.error >>> 0, true);
}

/** Peek the message size of a (possibly partial) buffer holding at least 8 bytes. */
export function peekMessageSize(buf: Uint8Array, offset = 0): number {
  return (
    (buf[offset + 4]! |
      (buf[offset + 5]! << 8) |
      (buf[offset + 6]! << 16) |
      (buf[offset + 7]! << 24)) >>>
    0
  );
}
