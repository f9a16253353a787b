import {
  type BodyCodec,
  type CommandCodec,
  type DmaRwLayout,
  type EncodeOptions,
  expectNoFds,
  expectNoWrap,
  expectXfer,
} from "../codec.js";
import { HEADER_SIZE } from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import type { Reader } from "../reader.js";
import { checkBytes, checkUint, type Writer } from "../writer.js";

/** Body header size of DMA_READ / DMA_WRITE in both layouts (QEMU pads to it). */
export const DMA_ACCESS_SIZE = 16;
/** Largest count whose message still fits the u32 message size. */
export const DMA_MAX_COUNT = 0xffffffff - HEADER_SIZE - DMA_ACCESS_SIZE;

/**
 * VFIO_USER_DMA_READ request (server -> client).
 *   spec: 0 address u64 | 8 count u64
 *   qemu: 0 address u64 | 8 count u32 | 12 zero u32
 */
export interface DmaReadRequest {
  address: bigint;
  count: number;
}

/**
 * VFIO_USER_DMA_READ reply, and DMA_WRITE request: count = data.length.
 *   spec: 0 address u64 | 8 count u64 | 16 data
 *   qemu: 0 address u64 | 8 count u32 | 12 data | 4 zero bytes after the data
 */
export interface DmaData {
  address: bigint;
  data: Uint8Array;
}

/** VFIO_USER_DMA_READ reply: the address and the data read. */
export type DmaReadReply = DmaData;
/** VFIO_USER_DMA_WRITE request: the address and the data to write. */
export type DmaWriteRequest = DmaData;

/**
 * VFIO_USER_DMA_WRITE reply. The spec's table says `address u64, count u32` (12 bytes);
 * libvfio-user's client sends `address u64, count u64` (16); QEMU sends a header-only
 * reply. The decoder accepts all three in either layout (absent fields for the empty
 * one); the encoder writes 16 bytes when `address` is set, else an empty body.
 */
export interface DmaWriteReply {
  address?: bigint;
  count?: number;
}

function layoutOf(o: EncodeOptions): DmaRwLayout {
  const l = o.dmaRwLayout ?? "spec";
  if (l !== "spec" && l !== "qemu") throw new ProtocolError("EINVAL", `bad dmaRwLayout ${l}`);
  return l;
}

function readCount(r: Reader, layout: DmaRwLayout): number {
  if (layout === "spec") return r.u64Number("count", DMA_MAX_COUNT, "E2BIG");
  const count = r.u32("count");
  if (count > DMA_MAX_COUNT) r.fail(`count ${count} exceeds ${DMA_MAX_COUNT}`, "E2BIG");
  return count;
}

function writeCount(w: Writer, count: number, layout: DmaRwLayout): void {
  checkUint(count, DMA_MAX_COUNT, "count");
  if (layout === "spec") w.u64Number(count, "count");
  else w.u32(count, "count");
}

const readRequest: BodyCodec<DmaReadRequest> = {
  size(_v, o) {
    layoutOf(o);
    return DMA_ACCESS_SIZE;
  },
  write(w, v, o) {
    const layout = layoutOf(o);
    w.u64(v.address, "address");
    writeCount(w, v.count, layout);
    if (layout === "qemu") w.zeros(4, "padding");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    const layout = layoutOf(ctx);
    r.expectLength(DMA_ACCESS_SIZE);
    const address = r.u64("address");
    const count = readCount(r, layout);
    if (layout === "qemu" && r.u32("padding") !== 0) r.fail("count does not fit in 32 bits");
    expectXfer(r, ctx, count, "count");
    expectNoWrap(r, address, BigInt(count), "DMA access");
    return { address, count };
  },
};

function dataCodec(isRequest: boolean): BodyCodec<DmaData> {
  return {
    size(v, o) {
      layoutOf(o);
      return DMA_ACCESS_SIZE + checkBytes(v.data, "data").byteLength;
    },
    write(w, v, o) {
      const layout = layoutOf(o);
      w.u64(v.address, "address");
      writeCount(w, v.data.byteLength, layout);
      w.bytes(v.data, "data");
      if (layout === "qemu") w.zeros(4, "padding");
    },
    read(r, ctx) {
      expectNoFds(r, ctx);
      const layout = layoutOf(ctx);
      r.expectAtLeast(12);
      const address = r.u64("address");
      const count = readCount(r, layout);
      if (isRequest) expectXfer(r, ctx, count, "count");
      r.expectLength(DMA_ACCESS_SIZE + count);
      expectNoWrap(r, address, BigInt(count), "DMA access");
      const data = r.bytes(count, "data");
      if (layout === "qemu") r.skip(4, "padding");
      return { address, data };
    },
  };
}

const writeReply: BodyCodec<DmaWriteReply> = {
  size(v, o) {
    layoutOf(o);
    if ((v.address === undefined) !== (v.count === undefined)) {
      throw new ProtocolError("EINVAL", "DMA_WRITE reply: address and count go together");
    }
    return v.address === undefined ? 0 : DMA_ACCESS_SIZE;
  },
  write(w, v) {
    if (v.address === undefined || v.count === undefined) return;
    w.u64(v.address, "address");
    w.u64Number(v.count, "count");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    layoutOf(ctx);
    if (r.length === 0) return {};
    if (r.length !== 12 && r.length !== DMA_ACCESS_SIZE) {
      r.fail(`body is ${r.length} bytes, expected 0, 12 or 16`);
    }
    const address = r.u64("address");
    // The 12-byte form's u32 count gets the bound of the 16-byte form, so both forms
    // accept the same counts and a decoded reply always re-encodes.
    const count = r.length === 12 ? r.u32("count") : r.u64Number("count", DMA_MAX_COUNT);
    if (count > DMA_MAX_COUNT) r.fail(`count ${count} exceeds ${DMA_MAX_COUNT}`);
    return { address, count };
  },
};

/** Codec of VFIO_USER_DMA_READ. */
export const dmaReadCodec: CommandCodec<DmaReadRequest, DmaReadReply> = {
  request: readRequest,
  reply: dataCodec(false),
};

/** Codec of VFIO_USER_DMA_WRITE. */
export const dmaWriteCodec: CommandCodec<DmaWriteRequest, DmaWriteReply> = {
  request: dataCodec(true),
  reply: writeReply,
};
