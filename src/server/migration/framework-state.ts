/**
 * What the framework itself carries from source to destination, so a device author
 * saves only the device's own registers and memory: config space (BAR addresses,
 * command, MSI/MSI-X control, power state, everything a client programmed), the MSI-X
 * table and PBA, the INTx level, and interrupts the device raised while stopped.
 * Eventfds and DMA windows are the client's, re-established by the destination's
 * client (the spec's reconnect rule), so they are not in here.
 *
 *   version u16 | initial-config length u16 | initial bytes | live bytes (same length)
 *   | msix-table length u32 | table | pba length u32 | pba
 *   | intx level u8 | deferred intx u8 | deferred vectors count u16 | vectors u16[]
 *
 * The initial image identifies the device (ids, class, BARs, capability layout): a
 * stream saved from another kind of device is refused before anything changes.
 */
import { Reader, Writer } from "../../protocol/index.js";

const VERSION = 1;

export interface FrameworkState {
  readonly initialConfig: Uint8Array;
  readonly liveConfig: Uint8Array;
  readonly msixTable: Uint8Array;
  readonly msixPba: Uint8Array;
  readonly intxLevel: boolean;
  readonly deferredIntx: boolean;
  readonly deferredVectors: readonly number[];
}

export function encodeFrameworkState(s: FrameworkState): Uint8Array {
  const size =
    2 +
    2 +
    2 * s.initialConfig.byteLength +
    4 +
    s.msixTable.byteLength +
    4 +
    s.msixPba.byteLength +
    4 +
    2 * s.deferredVectors.length;
  const w = Writer.alloc(size);
  w.u16(VERSION, "version");
  w.u16(s.initialConfig.byteLength, "config length");
  w.bytes(s.initialConfig, "initial config");
  w.bytes(s.liveConfig, "live config");
  w.u32(s.msixTable.byteLength, "msix table length");
  w.bytes(s.msixTable, "msix table");
  w.u32(s.msixPba.byteLength, "msix pba length");
  w.bytes(s.msixPba, "msix pba");
  w.u8(s.intxLevel ? 1 : 0, "intx level");
  w.u8(s.deferredIntx ? 1 : 0, "deferred intx");
  w.u16(s.deferredVectors.length, "deferred vectors");
  for (const v of s.deferredVectors) w.u16(v, "vector");
  return w.finish();
}

/** Decodes a FRAMEWORK record; malformed input is a ProtocolError (a VfioError) EINVAL. */
export function decodeFrameworkState(bytes: Uint8Array): FrameworkState {
  const r = new Reader(bytes, "migration framework state");
  const version = r.u16("version");
  if (version !== VERSION) r.fail(`version ${version}, this server reads ${VERSION}`);
  const n = r.u16("config length");
  if (n !== 256 && n !== 4096) r.fail(`config length ${n}`);
  const initialConfig = r.bytes(n, "initial config");
  const liveConfig = r.bytes(n, "live config");
  const msixTable = r.bytes(r.u32("msix table length"), "msix table");
  const msixPba = r.bytes(r.u32("msix pba length"), "msix pba");
  const intxLevel = r.u8("intx level") !== 0;
  const deferredIntx = r.u8("deferred intx") !== 0;
  const count = r.u16("deferred vectors");
  const deferredVectors: number[] = [];
  for (let i = 0; i < count; i++) deferredVectors.push(r.u16("vector"));
  r.end();
  return {
    initialConfig,
    liveConfig,
    msixTable,
    msixPba,
    intxLevel,
    deferredIntx,
    deferredVectors,
  };
}
