import { VfioError } from "../../errors.js";
import {
  Command,
  encodeReply,
  type RegionReadRequest,
  type RegionWriteMultiRequest,
  type RegionWriteRequest,
} from "../../protocol/index.js";
import type { Region } from "../regions/region.js";
import { type HandlerContext, type Reply, showData } from "./context.js";

/** Region lookup plus the checks every access passes: index, flags, size, bounds. */
function accessTarget(
  ctx: HandlerContext,
  index: number,
  offset: bigint,
  count: number,
  op: "read" | "write",
): Region {
  const region = ctx.core.region(index);
  if (region === undefined) {
    throw new VfioError(
      "EINVAL",
      `region ${index} does not exist (${ctx.core.regions.length} regions)`,
    );
  }
  if (region.size === 0) throw new VfioError("EINVAL", `${region.name} is not implemented`);
  if (op === "read" ? !region.readable : !region.writable) {
    throw new VfioError(
      "EINVAL",
      `${region.name} is not ${op === "read" ? "readable" : "writable"}`,
    );
  }
  if (count === 0) throw new VfioError("EINVAL", `${region.name}: ${op} of 0 bytes`);
  if (offset + BigInt(count) > BigInt(region.size)) {
    throw new VfioError(
      "EINVAL",
      `${region.name}: ${op} of ${count} bytes at 0x${offset.toString(16)} is outside its ${region.size} bytes`,
    );
  }
  return region;
}

/** REGION_READ; synchronous unless the device handler returned a promise. */
export function regionRead(ctx: HandlerContext, req: RegionReadRequest): Reply | Promise<Reply> {
  const region = accessTarget(ctx, req.region, req.offset, req.count, "read");
  const data = region.read(Number(req.offset), req.count);
  if (data instanceof Promise) return data.then((d) => readReply(ctx, region, req, d));
  return readReply(ctx, region, req, data);
}

function readReply(
  ctx: HandlerContext,
  region: Region,
  req: RegionReadRequest,
  data: Uint8Array,
): Reply {
  if (ctx.verbose) {
    ctx.log.debug(
      `read  ${region.name} +0x${req.offset.toString(16)} [${req.count}] -> ${showData(data)}`,
    );
  }
  return {
    body: encodeReply(Command.VFIO_USER_REGION_READ, {
      offset: req.offset,
      region: req.region,
      data,
    }),
  };
}

function writeOne(
  ctx: HandlerContext,
  index: number,
  offset: bigint,
  data: Uint8Array,
): void | Promise<void> {
  const region = accessTarget(ctx, index, offset, data.byteLength, "write");
  if (ctx.verbose) {
    ctx.log.debug(
      `write ${region.name} +0x${offset.toString(16)} [${data.byteLength}] <- ${showData(data)}`,
    );
  }
  return region.write(Number(offset), data);
}

/** REGION_WRITE; synchronous unless the device handler returned a promise. */
export function regionWrite(ctx: HandlerContext, req: RegionWriteRequest): Reply | Promise<Reply> {
  const done = writeOne(ctx, req.region, req.offset, req.data);
  if (done instanceof Promise) return done.then(() => writeReply(req));
  return writeReply(req);
}

function writeReply(req: RegionWriteRequest): Reply {
  return {
    body: encodeReply(Command.VFIO_USER_REGION_WRITE, {
      offset: req.offset,
      region: req.region,
      count: req.data.byteLength,
    }),
  };
}

/**
 * REGION_WRITE_MULTI: the writes in order, as if sent one by one. The first failure
 * stops the batch and its errno is the reply (the writes before it took effect).
 * Synchronous until a device handler returns a promise, as for REGION_WRITE.
 */
export function regionWriteMulti(
  ctx: HandlerContext,
  req: RegionWriteMultiRequest,
): Reply | Promise<Reply> {
  return writeFrom(ctx, req, 0);
}

/** Writes req.writes[from..] in order; continues asynchronously after a promise. */
function writeFrom(
  ctx: HandlerContext,
  req: RegionWriteMultiRequest,
  from: number,
): Reply | Promise<Reply> {
  const stopped = (err: unknown, done: number): never => {
    ctx.log.debug(`WRITE_MULTI stopped after ${done} of ${req.writes.length} writes`);
    throw err;
  };
  for (let i = from; i < req.writes.length; i++) {
    const w = req.writes[i]!;
    let pending: void | Promise<void>;
    try {
      pending = writeOne(ctx, w.region, w.offset, w.data);
    } catch (err) {
      return stopped(err, i);
    }
    if (pending instanceof Promise) {
      return pending.then(
        () => writeFrom(ctx, req, i + 1),
        (err: unknown) => stopped(err, i),
      );
    }
  }
  return { body: encodeReply(Command.VFIO_USER_REGION_WRITE_MULTI, { wrCnt: req.writes.length }) };
}
