/**
 * The driver's side of live migration v2 and DMA dirty logging, over any backend
 * that has device features (vfio-user today): what the device supports, its state in
 * the migration state machine, its migration data, and the dirty pages of its DMA.
 */
import { VfioError } from "../errors.js";
import {
  type DmaLoggingRange,
  type FeatureData,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_STATE_ERROR,
  VFIO_DEVICE_STATE_PRE_COPY,
  VFIO_DEVICE_STATE_RESUMING,
  VFIO_DEVICE_STATE_RUNNING,
  VFIO_DEVICE_STATE_STOP,
  VFIO_DEVICE_STATE_STOP_COPY,
  VFIO_MIGRATION_P2P,
  VFIO_MIGRATION_PRE_COPY,
  VFIO_MIGRATION_STOP_COPY,
} from "../protocol/index.js";
import type { DeviceBackend } from "./backend.js";

/** The states of the migration state machine (vfio_device_mig_state). */
export const MigrationState = {
  ERROR: VFIO_DEVICE_STATE_ERROR,
  STOP: VFIO_DEVICE_STATE_STOP,
  RUNNING: VFIO_DEVICE_STATE_RUNNING,
  STOP_COPY: VFIO_DEVICE_STATE_STOP_COPY,
  RESUMING: VFIO_DEVICE_STATE_RESUMING,
  PRE_COPY: VFIO_DEVICE_STATE_PRE_COPY,
} as const;
export type MigrationState = (typeof MigrationState)[keyof typeof MigrationState];

/** What VFIO_DEVICE_FEATURE_MIGRATION says the device can do. */
export interface MigrationFeatures {
  readonly stopCopy: boolean;
  readonly preCopy: boolean;
  readonly p2p: boolean;
}

type Backend = Pick<DeviceBackend, "kind" | "deviceFeature" | "migDataRead" | "migDataWrite">;

/**
 * Live migration of one device from the driver side: its migration features, state changes,
 * migration data and dirty-page logging, over VFIO_DEVICE_FEATURE and MIG_DATA_READ/WRITE.
 */
export class DeviceMigration {
  readonly #backend: Backend;
  readonly #name: string;

  constructor(backend: Backend, name: string) {
    this.#backend = backend;
    this.#name = name;
  }

  /**
   * What the device supports, or undefined when it cannot migrate (the device answers
   * ENOTTY, or the backend has no device features).
   */
  async features(): Promise<MigrationFeatures | undefined> {
    if (!this.#backend.deviceFeature) return undefined;
    try {
      const d = await this.#feature(
        VFIO_DEVICE_FEATURE_MIGRATION,
        VFIO_DEVICE_FEATURE_GET,
        raw(),
        8,
      );
      const flags = expect(d, "migration").flags;
      return {
        stopCopy: (flags & VFIO_MIGRATION_STOP_COPY) !== 0n,
        preCopy: (flags & VFIO_MIGRATION_PRE_COPY) !== 0n,
        p2p: (flags & VFIO_MIGRATION_P2P) !== 0n,
      };
    } catch (err) {
      if ((err as { code?: string }).code === "ENOTTY") return undefined;
      throw err;
    }
  }

  /** The device's current migration state. */
  async state(): Promise<MigrationState> {
    const d = await this.#feature(
      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
      VFIO_DEVICE_FEATURE_GET,
      raw(),
      8,
    );
    return expect(d, "mig-state").deviceState as MigrationState;
  }

  /**
   * Moves the device to `state` (the device takes the spec's path through the
   * intermediate states). EINVAL for an arc that does not exist, e.g. STOP_COPY ->
   * PRE_COPY, or anything but a reset out of ERROR.
   */
  async setState(state: MigrationState): Promise<void> {
    await this.#feature(VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, VFIO_DEVICE_FEATURE_SET, {
      kind: "mig-state",
      deviceState: state,
      dataFd: 0xffffffff,
    });
  }

  /** Up to `size` bytes of migration data; fewer means no more (for now, in PRE_COPY). */
  read(size: number): Promise<Uint8Array> {
    const read = this.#backend.migDataRead;
    if (!read) return Promise.reject(this.#unsupported("migration data"));
    return read.call(this.#backend, size);
  }

  /** Migration data into a RESUMING device. */
  write(data: Uint8Array): Promise<void> {
    const write = this.#backend.migDataWrite;
    if (!write) return Promise.reject(this.#unsupported("migration data"));
    return write.call(this.#backend, data);
  }

  /** True when the device offers `feature` with the given operations (PROBE). */
  async probe(feature: number, ops: number): Promise<boolean> {
    try {
      await this.#feature(feature, ops | VFIO_DEVICE_FEATURE_PROBE, raw());
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ENOTTY" || code === "EINVAL") return false;
      throw err;
    }
  }

  /**
   * Starts logging the device's DMA writes in `ranges` (all of them when empty) at
   * about `pageSize` granularity; returns the page size the device picked.
   */
  async startDirtyLogging(ranges: readonly DmaLoggingRange[], pageSize = 4096n): Promise<bigint> {
    const d = await this.#feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_SET, {
      kind: "dma-logging-control",
      pageSize,
      ranges: [...ranges],
    });
    return expect(d, "dma-logging-control").pageSize;
  }

  /** Stops DMA dirty-page logging (DMA_LOGGING_STOP). */
  async stopDirtyLogging(): Promise<void> {
    await this.#feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, VFIO_DEVICE_FEATURE_SET, raw());
  }

  /**
   * The pages of [iova, iova + length) the device wrote since logging started or the
   * last report of them: bit n of the result (u64 words, little endian) is the page at
   * iova + n * pageSize. Reported pages are cleared.
   */
  async dirtyBitmap(iova: bigint, length: bigint, pageSize: bigint): Promise<Uint8Array> {
    const bits = (length + pageSize - 1n) / pageSize;
    const bytes = Number(((bits + 63n) / 64n) * 8n);
    const d = await this.#feature(
      VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
      VFIO_DEVICE_FEATURE_GET,
      { kind: "dma-logging-report", iova, length, pageSize },
      24 + bytes,
    );
    const bitmap = expect(d, "dma-logging-report").bitmap;
    if (bitmap === undefined)
      throw new VfioError("EIO", `${this.#name}: dirty report without a bitmap`);
    return bitmap;
  }

  async #feature(
    feature: number,
    ops: number,
    data: FeatureData,
    replyRoom?: number,
  ): Promise<FeatureData> {
    const call = this.#backend.deviceFeature;
    if (!call) throw this.#unsupported("device features");
    return call.call(this.#backend, feature, ops, data, replyRoom);
  }

  #unsupported(what: string): VfioError {
    return new VfioError(
      "ENOTTY",
      `${this.#name}: the ${this.#backend.kind} backend has no ${what} (migration is not implemented for it)`,
    );
  }
}

function raw(): FeatureData {
  return { kind: "raw", bytes: new Uint8Array(0) };
}

function expect<K extends FeatureData["kind"]>(
  d: FeatureData,
  kind: K,
): Extract<FeatureData, { kind: K }> {
  if (d.kind !== kind) {
    throw new VfioError("EPROTO", `DEVICE_FEATURE reply has ${d.kind} data, expected ${kind}`);
  }
  return d as Extract<FeatureData, { kind: K }>;
}
