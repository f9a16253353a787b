import type { BodyCodec, DecodeOptions, EncodeOptions } from "./codec.js";
import { decodeBody, decodeContext } from "./codec.js";
import {
  type CommandId,
  commandLabel,
  commandName,
  HEADER_SIZE,
  isKnownCommand,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_COMMAND,
  VFIO_USER_F_TYPE_REPLY,
} from "./constants.js";
import { decodeHeader, encodeHeader, type Header, isErrorReply, isReply } from "./header.js";
import { CODECS, type ReplyMap, type RequestMap } from "./messages/index.js";
import { ProtocolError } from "./protocol-error.js";
import { checkUint, Writer } from "./writer.js";

/** Header fields of a message to encode; `size` is computed. */
export interface MessageFields {
  id: number;
  command: number;
  /** Raw flags word (type bits, NO_REPLY, ERROR); default 0 = command. */
  flags?: number;
  error?: number;
}

/** A decoded command, with its body typed by command. */
export type DecodedRequest = {
  [C in CommandId]: { kind: "request"; header: Header; command: C; body: RequestMap[C] };
}[CommandId];

/** A decoded successful reply, with its body typed by command. */
export type DecodedReply = {
  [C in CommandId]: { kind: "reply"; header: Header; command: C; body: ReplyMap[C] };
}[CommandId];

/**
 * A reply with the Error flag: `errno` from its Error field (may be 0). Any payload is
 * ignored (libvfio-user may send one despite the spec); we only ever send header-only ones.
 */
export interface DecodedErrorReply {
  kind: "error";
  header: Header;
  command: CommandId;
  errno: number;
}

/** Any decoded message: a request, a reply or an error reply. */
export type DecodedMessage = DecodedRequest | DecodedReply | DecodedErrorReply;

const EMPTY = new Uint8Array(0);
const MAX_MESSAGE = 0xffffffff;

function frame(fields: MessageFields, bodySize: number): { buf: Uint8Array; w: Writer } {
  const size = HEADER_SIZE + bodySize;
  if (size > MAX_MESSAGE) throw new ProtocolError("E2BIG", `a ${size}-byte message exceeds 4 GiB`);
  const buf = new Uint8Array(size);
  encodeHeader(buf, {
    id: checkUint(fields.id, 0xffff, "id"),
    command: checkUint(fields.command, 0xffff, "command"),
    size,
    flags: checkUint(fields.flags ?? 0, 0xffffffff, "flags"),
    error: checkUint(fields.error ?? 0, 0xffffffff, "error"),
  });
  return { buf, w: new Writer(buf.subarray(HEADER_SIZE)) };
}

/** Header + raw body in one buffer, with the message size filled in. */
export function encodeMessage(fields: MessageFields, body: Uint8Array = EMPTY): Uint8Array {
  const { buf, w } = frame(fields, body.byteLength);
  w.bytes(body, "body");
  return buf;
}

function encodeWith<T>(fields: MessageFields, codec: BodyCodec<T>, v: T, o: EncodeOptions) {
  const { buf, w } = frame(fields, codec.size(v, o));
  codec.write(w, v, o);
  w.finish();
  return buf;
}

/** A whole request message, body encoded straight into the frame. */
export function encodeRequestMessage<C extends CommandId>(
  id: number,
  command: C,
  body: RequestMap[C],
  opts: EncodeOptions & { noReply?: boolean } = {},
): Uint8Array {
  const flags = VFIO_USER_F_TYPE_COMMAND | (opts.noReply ? VFIO_USER_F_NO_REPLY : 0);
  const codec = CODECS[command] as { request: BodyCodec<RequestMap[C]> };
  return encodeWith({ id, command, flags }, codec.request, body, opts);
}

/** A whole successful reply message. */
export function encodeReplyMessage<C extends CommandId>(
  id: number,
  command: C,
  body: ReplyMap[C],
  opts: EncodeOptions = {},
): Uint8Array {
  const codec = CODECS[command] as { reply: BodyCodec<ReplyMap[C]> };
  return encodeWith({ id, command, flags: VFIO_USER_F_TYPE_REPLY }, codec.reply, body, opts);
}

/** A header-only error reply (spec: an error reply has no payload). */
export function encodeErrorReply(id: number, command: number, errno: number): Uint8Array {
  return encodeMessage({
    id,
    command,
    flags: VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
    error: errno,
  });
}

function withHeader(err: unknown, header: Header): never {
  if (err instanceof ProtocolError && err.header === undefined) err.header = header;
  throw err;
}

/**
 * Decode a message whose header was already parsed (the transport's Frame): dispatch on
 * command and type to the right body decoder. Throws ProtocolError with `header` set:
 * ENOSYS for an unknown command, EINVAL (or E2BIG) for a bad body.
 */
export function decodeFrame(
  header: Header,
  body: Uint8Array,
  numFds: number,
  opts: DecodeOptions = {},
): DecodedMessage {
  const command = header.command;
  if (header.size !== HEADER_SIZE + body.byteLength) {
    withHeader(
      new ProtocolError(
        "EINVAL",
        `header size ${header.size} but ${HEADER_SIZE + body.byteLength} bytes`,
      ),
      header,
    );
  }
  if (!isKnownCommand(command)) {
    withHeader(new ProtocolError("ENOSYS", `unknown command ${commandName(command)}`), header);
  }
  const codec = CODECS[command] as {
    request: BodyCodec<unknown>;
    reply: BodyCodec<unknown>;
  };
  const ctx = decodeContext(numFds, opts);
  try {
    if (isReply(header) && isErrorReply(header)) {
      // The spec wants header-only error replies, but libvfio-user sends whatever reply
      // payload (and fds) it had built before the handler failed; the errno is what counts,
      // so the payload is ignored and the caller closes any fds.
      return { kind: "error", header, command, errno: header.error };
    }
    if (isReply(header)) {
      const b = decodeBody(codec.reply, commandLabel(command), "reply", body, ctx);
      return { kind: "reply", header, command, body: b } as DecodedReply;
    }
    const b = decodeBody(codec.request, commandLabel(command), "request", body, ctx);
    return { kind: "request", header, command, body: b } as DecodedRequest;
  } catch (err) {
    return withHeader(err, header);
  }
}

/** Decode one whole message (header included) that arrived with `numFds` descriptors. */
export function decodeMessage(
  bytes: Uint8Array,
  numFds: number,
  opts: DecodeOptions = {},
): DecodedMessage {
  const header = decodeHeader(bytes);
  return decodeFrame(header, bytes.subarray(HEADER_SIZE), numFds, opts);
}
