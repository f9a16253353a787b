import { VfioError } from "../../errors.js";
import type { ReadResult, RegionHandlers } from "../device.js";

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

/** Turns a handler's read result into exactly `size` bytes (EIO when it cannot). */
export function readResultBytes(result: ReadResult, size: number, what: string): Uint8Array {
  if (result instanceof Uint8Array) {
    if (result.byteLength !== size) {
      throw new VfioError(
        "EIO",
        `${what}: handler returned ${result.byteLength} bytes for a ${size}-byte read`,
      );
    }
    return result;
  }
  if (size > 8) {
    throw new VfioError("EIO", `${what}: handler must return a Uint8Array for a ${size}-byte read`);
  }
  let v: bigint;
  if (typeof result === "bigint") {
    v = result;
  } else if (typeof result === "number" && Number.isInteger(result)) {
    v = BigInt(result);
  } else {
    throw new VfioError(
      "EIO",
      `${what}: handler returned ${String(result)}, not bytes or an integer`,
    );
  }
  // Negative values are taken as two's complement of the access width (e.g. -1 = all ones).
  const bits = BigInt(size * 8);
  v = BigInt.asUintN(Number(bits), v);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * Calls a read handler (zeros without one) and normalizes its result. A handler that
 * answers synchronously is answered synchronously (a failure throws); only one that
 * returns a promise makes this return one.
 */
export function callRead(
  handlers: RegionHandlers,
  offset: number,
  size: number,
  what: string,
): Uint8Array | Promise<Uint8Array> {
  if (handlers.read === undefined) return new Uint8Array(size);
  let result: ReadResult | PromiseLike<ReadResult>;
  try {
    result = handlers.read(offset, size);
  } catch (err) {
    throw new DeviceHandlerError(what, err);
  }
  if (isThenable(result)) return settleRead(result, size, what);
  return readResultBytes(result, size, what);
}

async function settleRead(
  pending: PromiseLike<ReadResult>,
  size: number,
  what: string,
): Promise<Uint8Array> {
  let result: ReadResult;
  try {
    result = await pending;
  } catch (err) {
    throw new DeviceHandlerError(what, err);
  }
  return readResultBytes(result, size, what);
}

/** Calls a write handler (the write is dropped without one); synchronous as callRead. */
export function callWrite(
  handlers: RegionHandlers,
  offset: number,
  data: Uint8Array,
  what: string,
): void | Promise<void> {
  if (handlers.write === undefined) return;
  let result: void | PromiseLike<void>;
  try {
    result = handlers.write(offset, data);
  } catch (err) {
    throw new DeviceHandlerError(what, err);
  }
  if (isThenable(result)) return settleWrite(result, what);
}

async function settleWrite(pending: PromiseLike<void>, what: string): Promise<void> {
  try {
    await pending;
  } catch (err) {
    throw new DeviceHandlerError(what, err);
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

/** Little-endian value of up to 8 bytes, for handlers that want a number. */
export function leValue(data: Uint8Array): bigint {
  let v = 0n;
  for (let i = data.byteLength - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i]!);
  return v;
}
