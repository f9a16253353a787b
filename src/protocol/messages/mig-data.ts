import {
  type BodyCodec,
  type CommandCodec,
  type EmptyBody,
  emptyBody,
  expectArgsz,
  expectNoFds,
  expectXfer,
} from "../codec.js";
import { ProtocolError } from "../protocol-error.js";
import { checkBytes } from "../writer.js";

/** struct vfio_user_mig_data without data. */
export const MIG_DATA_SIZE = 8;

/** VFIO_USER_MIG_DATA_READ request: 0 argsz u32 | 4 size u32. */
export interface MigDataReadRequest {
  argsz: number;
  /** Bytes of migration data wanted. */
  size: number;
}

/**
 * VFIO_USER_MIG_DATA_READ reply: 0 argsz u32 | 4 size u32 | 8 data; size = data.length,
 * argsz = 8 + size. Less data than asked means the stream is drained. libvfio-user sends
 * a body sized for the requested amount even when it returns less, so bytes after the
 * data are accepted and ignored.
 */
export interface MigDataReadReply {
  argsz: number;
  data: Uint8Array;
}

/**
 * VFIO_USER_MIG_DATA_WRITE request: 0 argsz u32 | 4 size u32 | 8 data. The reply has no
 * payload, so any argsz is acceptable; libvfio-user wants >= 8 + size, which is what a
 * client should send.
 */
export interface MigDataWriteRequest {
  argsz: number;
  data: Uint8Array;
}

const readRequest: BodyCodec<MigDataReadRequest> = {
  size: () => MIG_DATA_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.size, "size");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectLength(MIG_DATA_SIZE);
    const v = { argsz: r.u32("argsz"), size: r.u32("size") };
    expectArgsz(r, v.argsz, MIG_DATA_SIZE);
    expectXfer(r, ctx, v.size, "size");
    return v;
  },
};

/** argsz, size, then the data: how MIG_DATA_READ's reply and MIG_DATA_WRITE's request encode. */
const withData: Pick<BodyCodec<{ argsz: number; data: Uint8Array }>, "size" | "write"> = {
  size: (v) => MIG_DATA_SIZE + checkBytes(v.data, "data").byteLength,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.data.byteLength, "size");
    w.bytes(v.data, "data");
  },
};

const readReply: BodyCodec<MigDataReadReply> = {
  ...withData,
  read(r, ctx) {
    expectNoFds(r, ctx);
    const argsz = r.u32("argsz");
    const size = r.u32("size");
    if (argsz !== MIG_DATA_SIZE + size) r.fail(`argsz ${argsz} is not 8 + size ${size}`);
    const data = r.bytes(size, "data");
    r.rest();
    return { argsz, data };
  },
};

const writeRequest: BodyCodec<MigDataWriteRequest> = {
  ...withData,
  read(r, ctx) {
    expectNoFds(r, ctx);
    const argsz = r.u32("argsz");
    const size = r.u32("size");
    expectXfer(r, ctx, size, "size");
    r.expectLength(MIG_DATA_SIZE + size);
    return { argsz, data: r.bytes(size, "data") };
  },
};

/** Codec of VFIO_USER_MIG_DATA_READ. */
export const migDataReadCodec: CommandCodec<MigDataReadRequest, MigDataReadReply> = {
  request: readRequest,
  reply: readReply,
  fitReply(requestArgsz, full) {
    const need = MIG_DATA_SIZE + checkBytes(full.data, "data").byteLength;
    // The server picks how much to read (at most argsz - 8), so it never has to truncate.
    if (requestArgsz < need) {
      throw new ProtocolError(
        "E2BIG",
        `MIG_DATA_READ: ${need}-byte reply exceeds argsz ${requestArgsz}`,
      );
    }
    return { ...full, argsz: need };
  },
};

/** Codec of VFIO_USER_MIG_DATA_WRITE. */
export const migDataWriteCodec: CommandCodec<MigDataWriteRequest, EmptyBody> = {
  request: writeRequest,
  reply: emptyBody,
};
