import { dirtyBitmapSize, expectNoWrap, isPowerOfTwo } from "../codec.js";
import {
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
} from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import type { Reader } from "../reader.js";
import { checkBytes, type Writer } from "../writer.js";

/** One IOVA range of dirty-page logging. */
export interface DmaLoggingRange {
  iova: bigint;
  length: bigint;
}

/**
 * The `data` of a DEVICE_FEATURE message, typed where the spec defines it:
 * - "migration": GET reply of FEATURE_MIGRATION: 0 flags u64 (VFIO_MIGRATION_*).
 * - "mig-state": SET request/reply and GET reply of FEATURE_MIG_DEVICE_STATE:
 *   0 device_state u32 | 4 data_fd u32 (unused by vfio-user).
 * - "dma-logging-control": SET request/reply of DMA_LOGGING_START:
 *   0 page_size u64 | 8 num_ranges u32 | 12 reserved u32 | 16 ranges[] (iova u64, length u64).
 * - "dma-logging-report": GET of DMA_LOGGING_REPORT: 0 iova u64 | 8 length u64 |
 *   16 page_size u64, and in the reply the bitmap (u64 words) at 24.
 * - "raw": everything else (PROBE, GET requests whose data is output space,
 *   DMA_LOGGING_STOP, unknown features, and the data-less truncated GET reply).
 */
export type FeatureData =
  | { kind: "raw"; bytes: Uint8Array }
  | { kind: "migration"; flags: bigint }
  | { kind: "mig-state"; deviceState: number; dataFd: number }
  | { kind: "dma-logging-control"; pageSize: bigint; ranges: DmaLoggingRange[] }
  | {
      kind: "dma-logging-report";
      iova: bigint;
      length: bigint;
      pageSize: bigint;
      /** Reply only: one bit per page, u64 words. */
      bitmap?: Uint8Array;
    };

/** The kinds of DEVICE_FEATURE data. */
export type FeatureDataKind = FeatureData["kind"];

/** Which typed layout data has, from the feature index, the operation bits and direction. */
export function featureDataKind(
  feature: number,
  ops: number,
  direction: "request" | "reply",
): FeatureDataKind {
  if ((ops & VFIO_DEVICE_FEATURE_PROBE) !== 0) return "raw";
  const get = (ops & VFIO_DEVICE_FEATURE_GET) !== 0;
  const set = (ops & VFIO_DEVICE_FEATURE_SET) !== 0;
  switch (feature) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
      return get && direction === "reply" ? "migration" : "raw";
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
      return set || direction === "reply" ? "mig-state" : "raw";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
      return set ? "dma-logging-control" : "raw";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
      return get ? "dma-logging-report" : "raw";
    default:
      return "raw";
  }
}

/** The largest bitmap a u32 argsz can describe after the 8 + 24 bytes in front of it. */
const MAX_REPORT_BITMAP = 0xffffffff - 32;

function reportBitmapSize(length: bigint, pageSize: bigint, fail: (m: string) => never): number {
  if (!isPowerOfTwo(pageSize)) fail(`page_size ${pageSize} is not a power of two`);
  if (length === 0n) fail("length is 0");
  const n = dirtyBitmapSize(length, pageSize);
  if (n > BigInt(MAX_REPORT_BITMAP)) fail(`a ${n}-byte bitmap does not fit a message`);
  return Number(n);
}

function encodeFail(m: string): never {
  throw new ProtocolError("EINVAL", `DEVICE_FEATURE data: ${m}`);
}

/** The encoded size of a DEVICE_FEATURE message's data. */
export function featureDataSize(d: FeatureData): number {
  switch (d.kind) {
    case "raw":
      return checkBytes(d.bytes, "data").byteLength;
    case "migration":
    case "mig-state":
      return 8;
    case "dma-logging-control":
      if (!Array.isArray(d.ranges)) encodeFail("ranges must be an array");
      return 16 + 16 * d.ranges.length;
    case "dma-logging-report":
      if (d.bitmap === undefined) return 24;
      if (
        checkBytes(d.bitmap, "bitmap").byteLength !==
        reportBitmapSize(d.length, d.pageSize, encodeFail)
      ) {
        encodeFail("bitmap size does not match length / page_size");
      }
      return 24 + d.bitmap.byteLength;
    default:
      return encodeFail(`unknown data kind ${(d as { kind: unknown }).kind}`);
  }
}

export function writeFeatureData(w: Writer, d: FeatureData): void {
  switch (d.kind) {
    case "raw":
      w.bytes(d.bytes, "data");
      return;
    case "migration":
      w.u64(d.flags, "migration flags");
      return;
    case "mig-state":
      w.u32(d.deviceState, "device_state");
      w.u32(d.dataFd, "data_fd");
      return;
    case "dma-logging-control":
      w.u64(d.pageSize, "page_size");
      w.u32(d.ranges.length, "num_ranges");
      w.zeros(4, "reserved");
      for (const rg of d.ranges) {
        w.u64(rg.iova, "iova");
        w.u64(rg.length, "length");
      }
      return;
    case "dma-logging-report":
      w.u64(d.iova, "iova");
      w.u64(d.length, "length");
      w.u64(d.pageSize, "page_size");
      if (d.bitmap) w.bytes(d.bitmap, "bitmap");
      return;
  }
}

/** Decode the rest of `r` as data of the given kind; the body must be consumed exactly. */
export function readFeatureData(
  r: Reader,
  kind: FeatureDataKind,
  direction: "request" | "reply",
): FeatureData {
  switch (kind) {
    case "raw":
      return { kind, bytes: r.rest() };
    case "migration":
      r.expectLength(r.offset + 8);
      return { kind, flags: r.u64("migration flags") };
    case "mig-state":
      r.expectLength(r.offset + 8);
      return { kind, deviceState: r.u32("device_state"), dataFd: r.u32("data_fd") };
    case "dma-logging-control": {
      const pageSize = r.u64("page_size");
      const n = r.u32("num_ranges");
      r.skip(4, "reserved");
      if (n > Math.floor(r.remaining / 16)) r.fail(`num_ranges ${n} exceeds the body`);
      r.expectLength(r.offset + 16 * n);
      const ranges: DmaLoggingRange[] = [];
      for (let i = 0; i < n; i++) {
        const rg = { iova: r.u64("iova"), length: r.u64("length") };
        expectNoWrap(r, rg.iova, rg.length, `range ${i}`);
        ranges.push(rg);
      }
      return { kind, pageSize, ranges };
    }
    case "dma-logging-report": {
      const iova = r.u64("iova");
      const length = r.u64("length");
      const pageSize = r.u64("page_size");
      expectNoWrap(r, iova, length, "report range");
      const bitmapSize = reportBitmapSize(length, pageSize, (m) => r.fail(m));
      if (direction === "request") {
        r.expectLength(r.offset);
        return { kind, iova, length, pageSize };
      }
      r.expectLength(r.offset + bitmapSize);
      return { kind, iova, length, pageSize, bitmap: r.bytes(bitmapSize, "bitmap") };
    }
  }
}
