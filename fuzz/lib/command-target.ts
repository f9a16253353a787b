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
  type VersionMessage,
} from "../../src/protocol/index.js";
import { decodeOrReject, expectSame, InconsistentDecode } from "./expect.js";

const XFER = [undefined, 0, 1, 8, 4096, 1 << 20];

/** What a body decoder returned, and what it was given. */
export interface Decoded {
  command: CommandId;
  reply: boolean;
  body: Uint8Array;
  ctx: DecodeContext;
  value: unknown;
}

/**
 * A fuzz target over the body decoders of `commands`. Input: byte 0 picks the command,
 * byte 1 the direction (bit 0) and the fd count (bits 1-3), byte 2 max_data_xfer_size
 * (bits 0-2) and the DMA_READ/WRITE layout (bit 3); the rest is the body. A decoded body
 * must survive re-encoding (encode it, decode that: the same value), the hot-path
 * decoders (fastRead) must agree with the full ones, and `check` adds the family's own
 * invariants.
 */
export function commandTarget(
  commands: readonly CommandId[],
  check: (d: Decoded) => void = () => {},
): (data: Buffer) => void {
  return (data) => {
    if (data.length < 3) return;
    const command = commands[data[0]! % commands.length]!;
    const reply = (data[1]! & 1) === 1;
    const ctx: DecodeContext = {
      numFds: (data[1]! >> 1) & 7,
      maxDataXferSize: XFER[(data[2]! & 7) % XFER.length],
      dmaRwLayout: (data[2]! & 8) === 0 ? "spec" : "qemu",
    };
    const body = new Uint8Array(data.buffer, data.byteOffset + 3, data.length - 3);
    const decode = reply ? decodeReply : decodeRequest;
    const value = decodeOrReject(() => decode(command, body, ctx));
    if (value === undefined) return;
    const d: Decoded = { command, reply, body, ctx, value };
    checkFullDecoder(d);
    checkReencode(d);
    check(d);
  };
}

function checkReencode({ command, reply, ctx, value }: Decoded): void {
  // A decoded value re-encodes as is, or (a reply whose capabilities sit with gaps, a
  // valid but non-canonical chain) in the canonical form fitReply gives with unlimited
  // room, whose argsz is what the chain needs.
  const encode = reply ? encodeReply : encodeRequest;
  const opts = { dmaRwLayout: ctx.dmaRwLayout };
  const fit = CODECS[command].fitReply as ((a: number, r: unknown) => unknown) | undefined;
  let canonical: unknown = value;
  let bytes = decodeOrReject(() => encode(command, value as never, opts));
  if (bytes === undefined && reply && fit !== undefined) {
    canonical = fit(0xffffffff, value);
    bytes = decodeOrReject(() => encode(command, canonical as never, opts));
  }
  if (bytes === undefined && sendsOnlyExactDoubles(command, canonical)) return;
  if (bytes === undefined)
    throw new InconsistentDecode(`${command}: decoded value does not encode`, value);
  const decode = reply ? decodeReply : decodeRequest;
  const again = bytes;
  const v2 = decodeOrReject(() => decode(command, again, ctx));
  if (v2 === undefined) throw new InconsistentDecode(`${command}: re-encoding does not decode`);
  expectSame(`${command} ${reply ? "reply" : "request"} re-encode`, canonical, v2);
}

// decode() takes fastRead when it vouches for the bytes; the full reader must agree.
function checkFullDecoder({ command, reply, body, ctx, value }: Decoded): void {
  const codec = reply ? CODECS[command].reply : CODECS[command].request;
  if (codec.fastRead === undefined) return;
  const full = decodeOrReject(() => {
    const r = new Reader(body, "full");
    const x = (codec.read as (r: Reader, c: DecodeContext) => unknown)(r, ctx);
    r.end();
    return x;
  });
  if (full === undefined)
    throw new InconsistentDecode(`${command}: fastRead accepts what read rejects`);
  expectSame(`${command} fastRead vs read`, value, full);
}

/**
 * VERSION reads every u64 page-size mask exactly but, by design, sends only masks a
 * double holds, so a peer whose JSON numbers are doubles reads them exactly too. Any
 * mask of page sizes of 2 KiB or more is one; smaller pages only come from a fuzzer.
 */
function sendsOnlyExactDoubles(command: CommandId, v: unknown): boolean {
  if (command !== Command.VFIO_USER_VERSION) return false;
  const caps = (v as VersionMessage).capabilities;
  const inexact = (m: bigint | undefined) => m !== undefined && BigInt(Number(m)) !== m;
  return inexact(caps?.pgsizes) || inexact(caps?.migration?.pgsize);
}
