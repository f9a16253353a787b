import { type BodyCodec, type CommandCodec, expectArgsz, expectNoFds } from "../codec.js";
import { fitFixedReply } from "./device-info.js";

/** Size of struct vfio_irq_info, request and reply. */
export const IRQ_INFO_SIZE = 16;

/**
 * VFIO_USER_DEVICE_GET_IRQ_INFO request:
 *   0 argsz u32 | 4 flags u32 | 8 index u32 | 12 count u32
 * flags and count "must be zero"; they are ignored when decoding and written as zero.
 */
export interface IrqInfoRequest {
  argsz: number;
  index: number;
}

/** VFIO_USER_DEVICE_GET_IRQ_INFO reply: same layout. */
export interface IrqInfoReply {
  argsz: number;
  /** VFIO_IRQ_INFO_EVENTFD | MASKABLE | AUTOMASKED | NORESIZE. */
  flags: number;
  index: number;
  count: number;
}

const request: BodyCodec<IrqInfoRequest> = {
  size: () => IRQ_INFO_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.zeros(4, "flags");
    w.u32(v.index, "index");
    w.zeros(4, "count");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectLength(IRQ_INFO_SIZE);
    const argsz = r.u32("argsz");
    r.skip(4, "flags");
    const index = r.u32("index");
    r.skip(4, "count");
    expectArgsz(r, argsz, IRQ_INFO_SIZE);
    return { argsz, index };
  },
};

const reply: BodyCodec<IrqInfoReply> = {
  size: () => IRQ_INFO_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.flags, "flags");
    w.u32(v.index, "index");
    w.u32(v.count, "count");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectLength(IRQ_INFO_SIZE);
    const v: IrqInfoReply = {
      argsz: r.u32("argsz"),
      flags: r.u32("flags"),
      index: r.u32("index"),
      count: r.u32("count"),
    };
    if (v.argsz < IRQ_INFO_SIZE) r.fail(`argsz ${v.argsz} is below ${IRQ_INFO_SIZE}`);
    return v;
  },
};

/** Codec of VFIO_USER_DEVICE_GET_IRQ_INFO. */
export const irqInfoCodec: CommandCodec<IrqInfoRequest, IrqInfoReply> = {
  request,
  reply,
  fitReply: fitFixedReply("DEVICE_GET_IRQ_INFO", IRQ_INFO_SIZE),
};
