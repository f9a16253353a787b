/**
 * Fuzz target: every command's request and reply body decoder (decodeRequest/decodeReply).
 * The data chooses the command, the direction, the fd count, max_data_xfer_size and the
 * DMA_READ/WRITE layout; the rest is the body. A decoded body must survive re-encoding:
 * encoding it and decoding that again gives the same value, and the hot-path decoders
 * (fastRead) agree with the full ones.
 */
import {
  CODECS,
  Command,
  type CommandId,
  type DecodeContext,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  Reader,
} from "../src/protocol/index.js";
import { decodeOrReject, expectSame, InconsistentDecode } from "./lib/expect.js";

const COMMANDS = Object.values(Command) as CommandId[];
const XFER = [undefined, 0, 1, 8, 4096, 1 << 20];

export function fuzz(data: Buffer): void {
  if (data.length < 3) return;
  const command = COMMANDS[data[0]! % COMMANDS.length]!;
  const reply = (data[1]! & 1) === 1;
  const numFds = (data[1]! >> 1) & 7;
  const maxDataXferSize = XFER[(data[2]! & 7) % XFER.length];
  const dmaRwLayout = (data[2]! & 8) === 0 ? "spec" : "qemu";
  const ctx: DecodeContext = { numFds, maxDataXferSize, dmaRwLayout };
  const body = new Uint8Array(data.buffer, data.byteOffset + 3, data.length - 3);
  const decode = reply ? decodeReply : decodeRequest;
  const v = decodeOrReject(() => decode(command, body, ctx));
  if (v === undefined) return;
  checkFullDecoder(command, reply, body, ctx, v);
  // A decoded value re-encodes as is, or (a reply whose capabilities sit with gaps, a
  // valid but non-canonical chain) in the canonical form fitReply gives with unlimited
  // room, whose argsz is what the chain needs.
  const encode = reply ? encodeReply : encodeRequest;
  const fit = CODECS[command].fitReply as ((a: number, r: unknown) => unknown) | undefined;
  let canonical: unknown = v;
  let again = decodeOrReject(() => encode(command, v as never, { dmaRwLayout }));
  if (again === undefined && reply && fit !== undefined) {
    canonical = fit(0xffffffff, v);
    again = decodeOrReject(() => encode(command, canonical as never, { dmaRwLayout }));
  }
  if (again === undefined)
    throw new InconsistentDecode(`${command} decoded value does not encode`, v);
  const bytes = again;
  const v2 = decodeOrReject(() => decode(command, bytes, ctx));
  if (v2 === undefined) throw new InconsistentDecode(`${command} re-encoding does not decode`);
  expectSame(`${command} ${reply ? "reply" : "request"} re-encode`, canonical, v2);
}

// decode() takes fastRead when it vouches for the bytes; the full reader must agree.
function checkFullDecoder(
  command: CommandId,
  reply: boolean,
  body: Uint8Array,
  ctx: DecodeContext,
  v: unknown,
): void {
  const codec = reply ? CODECS[command].reply : CODECS[command].request;
  if (codec.fastRead === undefined) return;
  const full = decodeOrReject(() => {
    const r = new Reader(body, "full");
    const x = (codec.read as (r: Reader, c: DecodeContext) => unknown)(r, ctx);
    r.end();
    return x;
  });
  if (full === undefined)
    throw new InconsistentDecode(`${command} fastRead accepts what read rejects`);
  expectSame(`${command} fastRead vs read`, v, full);
}
