/**
 * Moving a device from one server to another, as a VMM does for a guest: the
 * destination prepares to resume, optional pre-copy rounds move what can move while
 * the source runs, then the source stops, its remaining state moves, and the
 * destination runs. The time between the source's stop and the destination's run is
 * the device's downtime.
 */
import { VfioError } from "../errors.js";
import type { DeviceHandle } from "./device-handle.js";
import { type DeviceMigration, MigrationState } from "./device-migration.js";

/** Options of migrateDevice: pre-copy rounds, the chunk size, and a hook when the source stops. */
export interface MigrateOptions {
  /** Pre-copy rounds before the stop-copy (used when both devices support PRE_COPY). Default 0. */
  readonly precopyRounds?: number;
  /** Bytes per MIG_DATA_READ; default the smaller of the two sides' transfer limits and 1 MiB. */
  readonly chunkSize?: number;
  /**
   * Called just before the source is told to stop (STOP_COPY), after any pre-copy: a
   * driver holds its posted writes here (doorbells), which a stopped device refuses
   * with no reply to tell anyone. A failure ends the migration with the source running.
   */
  readonly beforeStop?: () => void | Promise<void>;
  /** Called once the source has stopped and before its state is read (e.g. to log it). */
  readonly onSourceStopped?: () => void | Promise<void>;
}

/** What migrateDevice moved and how long the device was stopped. */
export interface MigrationReport {
  /** Bytes of migration data moved, pre-copy included. */
  readonly bytes: number;
  readonly precopyBytes: number;
  /** Pre-copy rounds run. */
  readonly rounds: number;
  /** From the source's stop to the destination's run, in milliseconds. */
  readonly downtimeMs: number;
  readonly totalMs: number;
}

/**
 * Migrates the device behind `source` to the device behind `destination` (a fresh
 * instance of the same device in another server). The source is left in STOP. On a
 * failure the source is put back to RUNNING when it can be, and the error is thrown.
 */
export async function migrateDevice(
  source: DeviceHandle,
  destination: DeviceHandle,
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  const started = performance.now();
  const src = source.migration;
  const dst = destination.migration;
  const [srcId, dstId] = await Promise.all([identity(source), identity(destination)]);
  if (srcId !== dstId) {
    throw new VfioError(
      "EINVAL",
      `${source.name} is ${srcId} and ${destination.name} is ${dstId}: not the same device`,
    );
  }
  const [from, to] = await Promise.all([src.features(), dst.features()]);
  if (!from?.stopCopy) throw new VfioError("ENOTTY", `${source.name} cannot migrate`);
  if (!to?.stopCopy) throw new VfioError("ENOTTY", `${destination.name} cannot migrate`);
  const chunk =
    options.chunkSize ??
    Math.min(
      1 << 20,
      source.backend.limits.maxDataXferSize,
      destination.backend.limits.maxDataXferSize,
    );
  const rounds = from.preCopy && to.preCopy ? (options.precopyRounds ?? 0) : 0;
  let precopyBytes = 0;
  let bytes = 0;
  await dst.setState(MigrationState.RESUMING);
  try {
    if (rounds > 0) {
      await src.setState(MigrationState.PRE_COPY);
      for (let i = 0; i < rounds; i++) precopyBytes += await pump(src, dst, chunk, precopyBytes);
    }
    await options.beforeStop?.();
    const stopped = performance.now();
    await src.setState(MigrationState.STOP_COPY);
    await options.onSourceStopped?.();
    bytes = precopyBytes + (await pump(src, dst, chunk, precopyBytes));
    try {
      await dst.setState(MigrationState.RUNNING);
    } catch (err) {
      throw new VfioError(
        (err as VfioError).errno ?? "EIO",
        `${destination.name} refused the device state (${(err as VfioError).code ?? err}): ` +
          "the data is incomplete or corrupt, or comes from a different device or version",
        { cause: err },
      );
    }
    const running = performance.now();
    await src.setState(MigrationState.STOP);
    return {
      bytes,
      precopyBytes,
      rounds,
      downtimeMs: running - stopped,
      totalMs: performance.now() - started,
    };
  } catch (err) {
    // Put the source back in service; the destination goes back to a clean STOP.
    await src.setState(MigrationState.RUNNING).catch(() => {});
    await dst.setState(MigrationState.STOP).catch(() => {});
    throw err;
  }
}

/** vendor:device subsystem-vendor:subsystem class: what must match on both sides. */
async function identity(d: DeviceHandle): Promise<string> {
  const h = (v: number, w: number) => v.toString(16).padStart(w, "0");
  const c = d.config;
  return (
    `${h(await c.read16(0x00), 4)}:${h(await c.read16(0x02), 4)} ` +
    `(subsystem ${h(await c.read16(0x2c), 4)}:${h(await c.read16(0x2e), 4)}, ` +
    `class ${h((await c.read32(0x08)) >>> 8, 6)})`
  );
}

/**
 * Reads until a short read, writing each piece to the destination; returns the bytes
 * moved. `before`: bytes moved by earlier passes, for the error message.
 */
async function pump(
  src: DeviceMigration,
  dst: DeviceMigration,
  chunk: number,
  before: number,
): Promise<number> {
  let moved = 0;
  for (;;) {
    const data = await src.read(chunk);
    if (data.byteLength > 0) {
      await dst.write(data).catch((err: VfioError) => {
        if (err.code !== "EFBIG") throw err;
        throw new VfioError(
          "EFBIG",
          `the destination took no more migration data after ${before + moved} bytes (EFBIG): ` +
            "more than its device buffers while resuming (MigrationDefinition.maxDataBytes)",
          { cause: err },
        );
      });
    }
    moved += data.byteLength;
    if (data.byteLength < chunk) return moved;
  }
}
