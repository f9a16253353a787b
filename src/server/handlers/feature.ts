import { VfioError } from "../../errors.js";
import {
  Command,
  type DeviceFeatureRequest,
  encodeReply,
  type FeatureData,
  fitReply,
  type MigDataReadRequest,
  type MigDataWriteRequest,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
} from "../../protocol/index.js";
import { migStateName } from "../migration/state-machine.js";
import type { HandlerContext, Reply } from "./context.js";

/** data_fd of MIG_DEVICE_STATE: unused by vfio-user, sent as -1. */
const NO_DATA_FD = 0xffffffff;

/** Which operations each feature has: GET, SET or both. */
const FEATURE_OPS: Readonly<Record<number, number>> = {
  [VFIO_DEVICE_FEATURE_MIGRATION]: VFIO_DEVICE_FEATURE_GET,
  [VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE]: VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_START]: VFIO_DEVICE_FEATURE_SET,
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP]: VFIO_DEVICE_FEATURE_SET,
  [VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT]: VFIO_DEVICE_FEATURE_GET,
};

const MIGRATION_FEATURES = new Set([
  VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
]);

/**
 * DEVICE_FEATURE, as the kernel's VFIO_DEVICE_FEATURE answers: ENOTTY for a feature the
 * device lacks (migration features on a device without `migration`, unknown indices),
 * EINVAL for an operation the feature does not have; PROBE succeeds when every
 * operation asked for is there.
 */
export async function deviceFeature(
  ctx: HandlerContext,
  req: DeviceFeatureRequest,
): Promise<Reply> {
  const ops = FEATURE_OPS[req.feature];
  const migration = ctx.core.migration;
  if (ops === undefined || (MIGRATION_FEATURES.has(req.feature) && !migration.supported)) {
    throw new VfioError(
      "ENOTTY",
      `device feature ${req.feature} is not supported by ${ctx.core.name}`,
    );
  }
  const asked = req.ops & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET);
  if ((asked & ~ops) !== 0) {
    throw new VfioError(
      "EINVAL",
      `device feature ${req.feature} has no ${(asked & ~ops) === VFIO_DEVICE_FEATURE_GET ? "GET" : "SET"}`,
    );
  }
  if ((req.ops & VFIO_DEVICE_FEATURE_PROBE) !== 0) return featureReply(req, req.data);
  const get = (req.ops & VFIO_DEVICE_FEATURE_GET) !== 0;
  switch (req.feature) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
      return featureReply(req, { kind: "migration", flags: migration.flags });
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: {
      if (get) {
        return featureReply(req, {
          kind: "mig-state",
          deviceState: migration.state,
          dataFd: NO_DATA_FD,
        });
      }
      const data = expectKind(req.data, "mig-state");
      const state = await migration.setState(data.deviceState);
      if (ctx.verbose) ctx.log.debug(`migration state now ${migStateName(state)}`);
      return featureReply(req, data);
    }
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START: {
      const data = expectKind(req.data, "dma-logging-control");
      const pageSize = ctx.core.dma.startLogging(data.pageSize, data.ranges);
      return featureReply(req, { ...data, pageSize });
    }
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      ctx.core.dma.stopLogging();
      return featureReply(req, req.data);
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT: {
      const data = expectKind(req.data, "dma-logging-report");
      const bitmap = ctx.core.dma.dirtyReport(data.iova, data.length, data.pageSize);
      return featureReply(req, { ...data, bitmap });
    }
    default:
      throw new VfioError("ENOTTY", `device feature ${req.feature} is not supported`);
  }
}

function expectKind<K extends FeatureData["kind"]>(
  data: FeatureData,
  kind: K,
): Extract<FeatureData, { kind: K }> {
  if (data.kind !== kind) throw new VfioError("EINVAL", `DEVICE_FEATURE: expected ${kind} data`);
  return data as Extract<FeatureData, { kind: K }>;
}

function featureReply(req: DeviceFeatureRequest, data: FeatureData): Reply {
  const reply = fitReply(Command.VFIO_USER_DEVICE_FEATURE, req.argsz, {
    argsz: req.argsz,
    feature: req.feature,
    ops: req.ops,
    data,
  });
  return { body: encodeReply(Command.VFIO_USER_DEVICE_FEATURE, reply) };
}

/** MIG_DATA_READ: at most `size` bytes of the stream, fewer when it runs dry. */
export async function migDataRead(ctx: HandlerContext, req: MigDataReadRequest): Promise<Reply> {
  if (!ctx.core.migration.supported) {
    throw new VfioError("ENOTTY", `${ctx.core.name} does not support migration`);
  }
  if (req.argsz < 8 + req.size) {
    // A shorter reply would read as "no more data": refuse instead of truncating.
    throw new VfioError(
      "EINVAL",
      `MIG_DATA_READ: argsz ${req.argsz} cannot hold ${req.size} bytes`,
    );
  }
  const data = await ctx.core.migration.read(req.size);
  const reply = fitReply(Command.VFIO_USER_MIG_DATA_READ, req.argsz, {
    argsz: 8 + data.byteLength,
    data,
  });
  const body = encodeReply(Command.VFIO_USER_MIG_DATA_READ, reply);
  if (body.byteLength === 8 + req.size) return { body };
  // A short read keeps the body at the size asked for, zero-filled after the data, as
  // libvfio-user answers: its client reads a fixed-size body (argsz and size still
  // say how much of it is data).
  const padded = new Uint8Array(8 + req.size);
  padded.set(body);
  return { body: padded };
}

/** MIG_DATA_WRITE: the next bytes of the stream (RESUMING only). */
export async function migDataWrite(ctx: HandlerContext, req: MigDataWriteRequest): Promise<Reply> {
  await ctx.core.migration.write(req.data);
  return {};
}
