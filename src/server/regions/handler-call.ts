import { VfioError } from "../../errors.js";
import type { DeviceContext, ReadResult, RegionHandlers } from "../device.js";
import { HANDLERS_MAY_RUN } from "../device-context.js";

/**
 * A device handler failed. The client gets `errno` (the VfioError's own errno when the
 * device threw one on purpose, EIO for anything else); the server logs `cause`.
 */
export class DeviceHandlerError extends VfioError {
  constructor(what: string, cause: unknown) {
    const errno = cause instanceof VfioError ? cause.errno : 5; // EIO
    super(errno, `${what}: device handler failed: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = "DeviceHandlerError";
  }
}

/**
 * How an access is named in errors: "<label> read at 0x<offset>". Built only when
 * something fails; accesses are per-register traffic.
 */
function describe(label: string, op: "read" | "write", offset: number): string {
  return `${label} ${op} at 0x${offset.toString(16)}`;
}

/**
 * Turns a handler's read result into exactly `size` bytes (EIO when it cannot);
 * `label` and `offset` name the access in the error.
 */
export function readResultBytes(
  result: ReadResult,
  size: number,
  label: string,
  offset = 0,
): Uint8Array {
  if (result instanceof Uint8Array) {
    if (result.byteLength !== size) {
      throw new VfioError(
        "EIO",
        `${describe(label, "read", offset)}: handler returned ${result.byteLength} bytes for a ${size}-byte read`,
      );
    }
    return result;
  }
  if (size > 8) {
    throw new VfioError(
      "EIO",
      `${describe(label, "read", offset)}: handler must return a Uint8Array for a ${size}-byte read`,
    );
  }
  const out = new Uint8Array(size);
  // Negative values are taken as two's complement of the access width (e.g. -1 = all ones).
  if (typeof result === "number" && Number.isInteger(result) && size <= 4) {
    // The common register read: >>> takes the value modulo 2^32, as asUintN would.
    for (let i = 0; i < size; i++) out[i] = (result >>> (8 * i)) & 0xff;
    return out;
  }
  let v: bigint;
  if (typeof result === "bigint") {
    v = result;
  } else if (typeof result === "number" && Number.isInteger(result)) {
    v = BigInt(result);
  } else {
    throw new VfioError(
      "EIO",
      `${describe(label, "read", offset)}: handler returned ${String(result)}, not bytes or an integer`,
    );
  }
  v = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * A device stopped for migration must not change (spec: STOP), so its handlers are
 * not called: the client gets EBUSY. Memory the framework serves itself (mmap-backed
 * BARs without handlers, MSI-X table and PBA) stays accessible, as the client's own
 * mmap of it does.
 */
function refuseWhileStopped(dev: DeviceContext, label: string, op: "read" | "write"): void {
  const mayRun = (dev as { [HANDLERS_MAY_RUN]?: () => boolean })[HANDLERS_MAY_RUN];
  if (mayRun === undefined || mayRun()) return;
  throw new VfioError("EBUSY", `${label}: ${op} refused, the device is stopped for migration`);
}

/**
 * Calls a read handler (zeros without one) and normalizes its result. A handler that
 * answers synchronously is answered synchronously (a failure throws); only one that
 * returns a promise makes this return one. `label` names the region in errors.
 */
export function callRead(
  handlers: RegionHandlers,
  dev: DeviceContext,
  offset: number,
  size: number,
  label: string,
): Uint8Array | Promise<Uint8Array> {
  if (handlers.read === undefined) return new Uint8Array(size);
  refuseWhileStopped(dev, label, "read");
  let result: ReadResult | PromiseLike<ReadResult>;
  try {
    result = handlers.read(offset, size, dev);
  } catch (err) {
    throw new DeviceHandlerError(describe(label, "read", offset), err);
  }
  if (isThenable(result)) return settleRead(result, size, label, offset);
  return readResultBytes(result, size, label, offset);
}

async function settleRead(
  pending: PromiseLike<ReadResult>,
  size: number,
  label: string,
  offset: number,
): Promise<Uint8Array> {
  let result: ReadResult;
  try {
    result = await pending;
  } catch (err) {
    throw new DeviceHandlerError(describe(label, "read", offset), err);
  }
  return readResultBytes(result, size, label, offset);
}

/** Calls a write handler (the write is dropped without one); synchronous as callRead. */
export function callWrite(
  handlers: RegionHandlers,
  dev: DeviceContext,
  offset: number,
  data: Uint8Array,
  label: string,
): void | Promise<void> {
  if (handlers.write === undefined) return;
  refuseWhileStopped(dev, label, "write");
  let result: void | PromiseLike<void>;
  try {
    result = handlers.write(offset, data, dev);
  } catch (err) {
    throw new DeviceHandlerError(describe(label, "write", offset), err);
  }
  if (isThenable(result)) return settleWrite(result, label, offset);
}

async function settleWrite(
  pending: PromiseLike<void>,
  label: string,
  offset: number,
): Promise<void> {
  try {
    await pending;
  } catch (err) {
    throw new DeviceHandlerError(describe(label, "write", offset), err);
  }
}

/** Anything a handler may return that `await` would wait for. */
function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return (
    (typeof v === "object" || typeof v === "function") &&
    v !== null &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

export { leValue } from "../../le.js";
