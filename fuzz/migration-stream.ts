/**
 * Fuzz target: the destination's side of migration data, which a client (or whoever
 * produced the stream) controls entirely. The first byte picks how the rest is cut
 * into MIG_DATA_WRITE pieces; the pieces go to IncomingStream, each record to its
 * decoder (the framework's state, edu's and gpio's load, the NVMe controller's state).
 * Allowed outcomes: records, or a VfioError EINVAL from the stream; a ProtocolError
 * from the framework decoder; a RangeError or VfioError from a device's load. A
 * complete stream, and an NVMe state that decodes, must re-encode to the same thing.
 */

import { EduDevice } from "../src/devices/edu/index.js";
import { PciIdio16 } from "../src/devices/gpio/index.js";
import {
  decodeControllerState,
  encodeControllerState,
} from "../src/devices/nvme/migration-state.js";
import { VfioError } from "../src/errors.js";
import { ProtocolError } from "../src/protocol/index.js";
import { decodeFrameworkState } from "../src/server/migration/framework-state.js";
import {
  encodeRecord,
  IncomingStream,
  type MigRecord,
  RecordKind,
  STREAM_MAGIC,
} from "../src/server/migration/stream.js";
import { expectSame, InconsistentDecode } from "./lib/expect.js";

const edu = new EduDevice();
const gpio = new PciIdio16();

export function fuzz(data: Buffer): void {
  if (data.byteLength === 0) return;
  const piece = 1 + (data[0]! % 64);
  const bytes = new Uint8Array(data.buffer, data.byteOffset + 1, data.byteLength - 1);
  const stream = new IncomingStream(1 << 16);
  try {
    for (let at = 0; at < bytes.byteLength; at += piece) {
      stream.write(bytes.subarray(at, Math.min(bytes.byteLength, at + piece)));
    }
  } catch (err) {
    if (!(err instanceof VfioError) || err.code !== "EINVAL") throw err;
    return;
  }
  for (const r of stream.records) decodeRecord(r);
  if (stream.ended) roundTrip(stream.records);
}

function decodeRecord(r: MigRecord): void {
  try {
    if (r.kind === RecordKind.FRAMEWORK) decodeFrameworkState(r.payload);
    else if (r.kind === RecordKind.DEVICE) {
      tolerate(() => edu.load(r.payload));
      tolerate(() => gpio.load(r.payload));
      tolerate(() => nvmeState(r.payload));
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
  }
}

/** An NVMe controller state that decodes must encode back to the same state. */
function nvmeState(payload: Uint8Array): void {
  const state = decodeControllerState(payload);
  expectSame("NVMe state re-encode", decodeControllerState(encodeControllerState(state)), state);
}

/** A device's load may refuse its input with RangeError or VfioError, nothing else. */
function tolerate(f: () => void): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof RangeError) && !(err instanceof VfioError)) throw err;
  }
}

function roundTrip(records: readonly MigRecord[]): void {
  const again = new IncomingStream(1 << 16);
  again.write(STREAM_MAGIC);
  for (const r of records) again.write(encodeRecord(r.kind, r.payload));
  again.write(encodeRecord(RecordKind.END));
  const same =
    again.ended &&
    again.records.length === records.length &&
    again.records.every(
      (r, i) =>
        r.kind === records[i]!.kind &&
        Buffer.from(r.payload).equals(Buffer.from(records[i]!.payload)),
    );
  if (!same) throw new InconsistentDecode("records do not round-trip", records.length);
}
