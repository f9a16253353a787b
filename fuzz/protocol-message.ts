/**
 * Fuzz target: whole messages (decodeMessage) and the header codec (decodeHeader,
 * peekMessageSize). Byte 0 gives the fd count and the decode options; the rest is the
 * message. A decoded message must be what its bytes say: its header the first 16 bytes,
 * its size the input's length, its kind what the type and error flags name.
 */
import {
  type DecodeOptions,
  decodeHeader,
  decodeMessage,
  HEADER_SIZE,
  isErrorReply,
  isReply,
  peekMessageSize,
} from "../src/protocol/index.js";
import { decodeOrReject, expectSame, InconsistentDecode } from "./lib/expect.js";

const XFER = [undefined, 0, 4096, 1 << 20];

export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const numFds = data[0]! & 7;
  const opts: DecodeOptions = {
    maxDataXferSize: XFER[(data[0]! >> 3) & 3],
    dmaRwLayout: (data[0]! & 0x20) === 0 ? "spec" : "qemu",
  };
  const bytes = new Uint8Array(data.buffer, data.byteOffset + 1, data.length - 1);
  const header = decodeOrReject(() => decodeHeader(bytes));
  if (header !== undefined) {
    if (header.size < HEADER_SIZE) throw new InconsistentDecode("header size below 16", header);
    if (peekMessageSize(bytes) !== header.size) throw new InconsistentDecode("peek size", header);
  }
  const m = decodeOrReject(() => decodeMessage(bytes, numFds, opts));
  if (m === undefined) return;
  if (header === undefined) throw new InconsistentDecode("message decoded, header did not");
  expectSame("message header", m.header, header);
  if (m.header.size !== bytes.byteLength) throw new InconsistentDecode("size", m.header);
  const kind = !isReply(m.header) ? "request" : isErrorReply(m.header) ? "error" : "reply";
  if (m.kind !== kind) throw new InconsistentDecode(`kind ${m.kind}, flags say ${kind}`);
  if (m.command !== m.header.command) throw new InconsistentDecode("command", m.header);
}
