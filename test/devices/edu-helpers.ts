/** Register access helpers for the edu tests. */
import { EduDevice } from "../../src/devices/edu/index.js";
import type { ReadResult } from "../../src/server/index.js";
import { type FakeHost, fakeHost, le } from "./fake-host.js";

export const RAM = 0x10000n;

export function value(r: ReadResult): bigint {
  if (r instanceof Uint8Array) {
    let v = 0n;
    for (let i = r.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(r[i]!);
    return v;
  }
  return BigInt(r);
}

export function setup(): { edu: EduDevice; host: FakeHost } {
  const host = fakeHost(RAM, 0x4000);
  return { edu: new EduDevice().bind(host), host };
}

export const r32 = (edu: EduDevice, off: number) => Number(value(edu.read(off, 4)));
export const r64 = (edu: EduDevice, off: number) => value(edu.read(off, 8));
export const w32 = (edu: EduDevice, off: number, v: number) => edu.write(off, le(v, 4));
export const w64 = (edu: EduDevice, off: number, v: bigint) => edu.write(off, le(v, 8));

/** factorial modulo 2^32, the slow obvious way. */
export function refFactorial(n: number): number {
  let r = 1n;
  for (let k = 2n; k <= BigInt(n); k++) r = (r * k) % 2n ** 32n;
  return Number(r);
}
