import { VfioError } from "../../errors.js";
import {
  Command,
  type DeviceInfoRequest,
  encodeReply,
  fitReply,
  type IrqInfoRequest,
  type RegionCap,
  type RegionInfoRequest,
  type RegionIoFdsRequest,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_PCI_NUM_IRQS,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from "../../protocol/index.js";
import type { Region } from "../regions/region.js";
import type { HandlerContext, Reply } from "./context.js";

export function deviceInfo(ctx: HandlerContext, req: DeviceInfoRequest): Reply {
  const reply = fitReply(Command.VFIO_USER_DEVICE_GET_INFO, req.argsz, {
    argsz: 16,
    flags: VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI,
    numRegions: ctx.core.regions.length,
    numIrqs: VFIO_PCI_NUM_IRQS,
  });
  return { body: encodeReply(Command.VFIO_USER_DEVICE_GET_INFO, reply) };
}

function regionOf(ctx: HandlerContext, index: number): Region {
  const region = ctx.core.region(index);
  if (region === undefined) {
    throw new VfioError(
      "EINVAL",
      `region ${index} does not exist (${ctx.core.regions.length} regions)`,
    );
  }
  return region;
}

/**
 * GET_REGION_INFO. Unimplemented standard regions answer size 0 and no flags (as
 * vfio-pci does). An mmap-able region always carries the sparse mmap capability (the
 * whole region when nothing is trapped) and its memfd travels only with a reply that
 * includes the capabilities, at mmap offset 0 (each region has its own fd). That is
 * libvfio-user's convention, which its client depends on: it asks first with argsz 32
 * and no room for descriptors, so an fd on that reply would break its recvmsg.
 * Device-specific regions also carry the region type capability.
 */
export function regionInfo(ctx: HandlerContext, req: RegionInfoRequest): Reply {
  const r = regionOf(ctx, req.index);
  let flags = 0;
  if (r.readable) flags |= VFIO_REGION_INFO_FLAG_READ;
  if (r.writable) flags |= VFIO_REGION_INFO_FLAG_WRITE;
  if (r.mmap) flags |= VFIO_REGION_INFO_FLAG_MMAP;
  const caps: RegionCap[] = [];
  if (r.mmap) {
    const areas = r.mmap.sparse ?? [{ offset: 0, size: r.size }];
    caps.push({
      kind: "sparse-mmap",
      areas: areas.map((a) => ({ offset: BigInt(a.offset), size: BigInt(a.size) })),
    });
  }
  if (r.typeCap) caps.push({ kind: "type", type: r.typeCap.type, subtype: r.typeCap.subtype });
  if (caps.length > 0) flags |= VFIO_REGION_INFO_FLAG_CAPS;
  const reply = fitReply(Command.VFIO_USER_DEVICE_GET_REGION_INFO, req.argsz, {
    argsz: 0,
    flags,
    index: req.index,
    size: BigInt(r.size),
    offset: 0n,
    caps,
  });
  return {
    body: encodeReply(Command.VFIO_USER_DEVICE_GET_REGION_INFO, reply),
    fds: r.mmap && reply.caps.length > 0 ? [r.mmap.fd] : undefined,
  };
}

/** No region offers ioeventfds/ioregionfds: a valid reply with zero sub-regions. */
export function regionIoFds(ctx: HandlerContext, req: RegionIoFdsRequest): Reply {
  regionOf(ctx, req.index);
  const reply = fitReply(Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS, req.argsz, {
    argsz: 0,
    index: req.index,
    count: 0,
    subRegions: [],
  });
  return { body: encodeReply(Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS, reply) };
}

export function irqInfo(ctx: HandlerContext, req: IrqInfoRequest): Reply {
  const info = ctx.core.irqs.info(req.index);
  const reply = fitReply(Command.VFIO_USER_DEVICE_GET_IRQ_INFO, req.argsz, {
    argsz: 16,
    flags: info.flags,
    index: req.index,
    count: info.count,
  });
  return { body: encodeReply(Command.VFIO_USER_DEVICE_GET_IRQ_INFO, reply) };
}
