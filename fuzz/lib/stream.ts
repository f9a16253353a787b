import {
  HEADER_SIZE,
  peekMessageSize,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_COMMAND,
  VFIO_USER_F_TYPE_MASK,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/index.js";

/**
 * Commands in a client's byte stream that the server owes a reply: every whole message
 * of type command without NO_REPLY, up to the first message the framing cannot carry
 * on past (the server closes the connection there, which also ends the wait).
 */
export function repliesOwed(stream: Uint8Array): number {
  let owed = 0;
  let pos = 0;
  while (pos + HEADER_SIZE <= stream.byteLength) {
    const size = peekMessageSize(stream, pos);
    if (size < HEADER_SIZE || pos + size > stream.byteLength) break;
    const flags = new DataView(stream.buffer, stream.byteOffset + pos + 8, 4).getUint32(0, true);
    const type = flags & VFIO_USER_F_TYPE_MASK;
    if (type === VFIO_USER_F_TYPE_COMMAND && (flags & VFIO_USER_F_NO_REPLY) === 0) owed++;
    else if (type !== VFIO_USER_F_TYPE_COMMAND && type !== VFIO_USER_F_TYPE_REPLY) break;
    pos += size;
  }
  return owed;
}

import { concatBytes as concat } from "../../src/bytes.js";

export { concat };
