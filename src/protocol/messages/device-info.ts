import { type BodyCodec, type CommandCodec, expectArgsz, expectNoFds } from "../codec.js";
import { ProtocolError } from "../protocol-error.js";

/** Size of struct vfio_user_device_info, request and reply. */
export const DEVICE_INFO_SIZE = 16;

/**
 * VFIO_USER_DEVICE_GET_INFO request:
 *   0 argsz u32 | 4 flags u32 | 8 num_regions u32 | 12 num_irqs u32
 * Only argsz means anything; the other fields "must be zero" and are ignored when
 * decoding (libvfio-user ignores them too) and written as zero.
 */
export interface DeviceInfoRequest {
  argsz: number;
}

/** VFIO_USER_DEVICE_GET_INFO reply: same layout, argsz is 16 today. */
export interface DeviceInfoReply {
  argsz: number;
  /** VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI. */
  flags: number;
  numRegions: number;
  numIrqs: number;
}

const request: BodyCodec<DeviceInfoRequest> = {
  size: () => DEVICE_INFO_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.zeros(12, "reserved");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectLength(DEVICE_INFO_SIZE);
    const argsz = r.u32("argsz");
    r.skip(12, "flags, num_regions, num_irqs");
    expectArgsz(r, argsz, DEVICE_INFO_SIZE);
    return { argsz };
  },
};

const reply: BodyCodec<DeviceInfoReply> = {
  size: () => DEVICE_INFO_SIZE,
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(v.flags, "flags");
    w.u32(v.numRegions, "num_regions");
    w.u32(v.numIrqs, "num_irqs");
  },
  read(r, ctx) {
    expectNoFds(r, ctx);
    r.expectLength(DEVICE_INFO_SIZE);
    const v: DeviceInfoReply = {
      argsz: r.u32("argsz"),
      flags: r.u32("flags"),
      numRegions: r.u32("num_regions"),
      numIrqs: r.u32("num_irqs"),
    };
    if (v.argsz < DEVICE_INFO_SIZE) r.fail(`argsz ${v.argsz} is below ${DEVICE_INFO_SIZE}`);
    return v;
  },
};

/** Shared fitReply of the fixed-size info replies (GET_INFO, GET_IRQ_INFO). */
export function fitFixedReply<T extends { argsz: number }>(
  name: string,
  size: number,
): (requestArgsz: number, reply: T) => T {
  return (requestArgsz, r) => {
    if (requestArgsz < size) {
      throw new ProtocolError("EINVAL", `${name}: argsz ${requestArgsz} < reply ${size}`);
    }
    return { ...r, argsz: size };
  };
}

/** Codec of VFIO_USER_DEVICE_GET_INFO. */
export const deviceInfoCodec: CommandCodec<DeviceInfoRequest, DeviceInfoReply> = {
  request,
  reply,
  fitReply: fitFixedReply("DEVICE_GET_INFO", DEVICE_INFO_SIZE),
};
