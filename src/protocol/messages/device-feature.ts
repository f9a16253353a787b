import { type BodyCodec, type CommandCodec, expectArgsz, expectNoFds } from "../codec.js";
import {
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
} from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import type { Reader } from "../reader.js";
import { checkUint } from "../writer.js";
import {
  type FeatureData,
  featureDataKind,
  featureDataSize,
  readFeatureData,
  writeFeatureData,
} from "./feature-data.js";

/** argsz + flags in front of the feature data. */
export const DEVICE_FEATURE_SIZE = 8;

const OPS = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE;

/**
 * VFIO_USER_DEVICE_FEATURE request and reply:
 *   0 argsz u32 | 4 flags u32 (bits 0-15 feature, 16 GET, 17 SET, 18 PROBE) | 8 data
 * GET and SET are exclusive unless PROBE is set. A SET/PROBE reply echoes the request,
 * so such a request's argsz must cover its own body. A GET reply whose argsz exceeds its
 * body is the "argsz too small" form: data is raw and empty, retry with reply.argsz.
 */
export interface DeviceFeatureMessage {
  argsz: number;
  /** Feature index (VFIO_DEVICE_FEATURE_MIGRATION, ...). */
  feature: number;
  /** VFIO_DEVICE_FEATURE_GET | SET | PROBE, as flag bits. */
  ops: number;
  data: FeatureData;
}

/** VFIO_USER_DEVICE_FEATURE request. */
export type DeviceFeatureRequest = DeviceFeatureMessage;
/** VFIO_USER_DEVICE_FEATURE reply (same layout as the request). */
export type DeviceFeatureReply = DeviceFeatureMessage;

function isGet(ops: number): boolean {
  return (ops & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE)) === VFIO_DEVICE_FEATURE_GET;
}

function opsProblem(ops: number): string | undefined {
  if ((ops & ~OPS) !== 0) return `unknown flag bits 0x${(ops & ~OPS).toString(16)}`;
  if (ops === 0) return "no GET, SET or PROBE";
  if (ops === (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) {
    return "GET and SET together need PROBE";
  }
  return undefined;
}

function encodeFail(m: string): never {
  throw new ProtocolError("EINVAL", `DEVICE_FEATURE: ${m}`);
}

function isTruncatedGet(v: DeviceFeatureMessage, direction: "request" | "reply"): boolean {
  return (
    direction === "reply" &&
    isGet(v.ops) &&
    v.data.kind === "raw" &&
    v.data.bytes.byteLength === 0 &&
    v.argsz > DEVICE_FEATURE_SIZE
  );
}

function body(direction: "request" | "reply"): BodyCodec<DeviceFeatureMessage> {
  return {
    size(v) {
      checkUint(v.feature, VFIO_DEVICE_FEATURE_MASK, "feature");
      const problem = opsProblem(v.ops);
      if (problem) encodeFail(problem);
      const size = DEVICE_FEATURE_SIZE + featureDataSize(v.data);
      if (isTruncatedGet(v, direction)) return size;
      const want = featureDataKind(v.feature, v.ops, direction);
      if (v.data.kind !== want) encodeFail(`data kind ${v.data.kind}, this message has ${want}`);
      if (direction === "reply" && (isGet(v.ops) ? v.argsz !== size : v.argsz < size)) {
        encodeFail(`argsz ${v.argsz} does not fit the ${size}-byte reply`);
      }
      return size;
    },
    write(w, v) {
      w.u32(v.argsz, "argsz");
      w.u32((v.feature | v.ops) >>> 0, "flags");
      writeFeatureData(w, v.data);
    },
    read(r: Reader, ctx) {
      expectNoFds(r, ctx);
      const argsz = r.u32("argsz");
      const flags = r.u32("flags");
      const feature = flags & VFIO_DEVICE_FEATURE_MASK;
      const ops = (flags & ~VFIO_DEVICE_FEATURE_MASK) >>> 0;
      const problem = opsProblem(ops);
      if (problem) r.fail(problem);
      if (direction === "request") {
        expectArgsz(r, argsz, isGet(ops) ? DEVICE_FEATURE_SIZE : r.length);
      } else if (isGet(ops) && argsz > r.length) {
        r.rest();
        return { argsz, feature, ops, data: { kind: "raw", bytes: new Uint8Array(0) } };
      } else if (isGet(ops) ? argsz !== r.length : argsz < r.length) {
        r.fail(`argsz ${argsz} does not match the ${r.length}-byte body`);
      }
      const data = readFeatureData(r, featureDataKind(feature, ops, direction), direction);
      return { argsz, feature, ops, data };
    },
  };
}

/** Codec of VFIO_USER_DEVICE_FEATURE. */
export const deviceFeatureCodec: CommandCodec<DeviceFeatureRequest, DeviceFeatureReply> = {
  request: body("request"),
  reply: body("reply"),
  fitReply(requestArgsz, full) {
    const need = DEVICE_FEATURE_SIZE + featureDataSize(full.data);
    if (requestArgsz < DEVICE_FEATURE_SIZE || (!isGet(full.ops) && requestArgsz < need)) {
      throw new ProtocolError("EINVAL", `DEVICE_FEATURE: argsz ${requestArgsz} < reply ${need}`);
    }
    if (requestArgsz >= need) return { ...full, argsz: need };
    return { ...full, argsz: need, data: { kind: "raw", bytes: new Uint8Array(0) } };
  },
};
