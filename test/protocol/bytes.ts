import assert from "node:assert/strict";
import { ProtocolError } from "../../src/protocol/protocol-error.js";

/** Little-endian byte builders for hand-written message layouts. */
export function u16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

export function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export function u64(v: bigint | number): number[] {
  const b = BigInt(v);
  const out: number[] = [];
  for (let i = 0n; i < 8n; i++) out.push(Number((b >> (8n * i)) & 0xffn));
  return out;
}

export function bytes(...parts: (number[] | Uint8Array | string)[]): Uint8Array {
  const flat: number[] = [];
  for (const p of parts) {
    if (typeof p === "string") flat.push(...new TextEncoder().encode(p));
    else flat.push(...p);
  }
  return Uint8Array.from(flat);
}

export function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

/** Assert `fn` throws a ProtocolError with the given errno name (and message part). */
export function throwsProtocol(fn: () => unknown, code = "EINVAL", match?: RegExp): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ProtocolError, `expected ProtocolError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (match) assert.match(caught.message, match);
  return caught;
}
