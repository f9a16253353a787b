/** Register access helpers for the edu tests. */
import { EduDevice } from "../../src/devices/edu/index.js";
import type { DeviceContext, ReadResult } from "../../src/server/index.js";
import { type FakeHost, fakeHost, le } from "./fake-host.js";

export const RAM = 0x10000n;

export function value(r: ReadResult): bigint {
  if (r instanceof Uint8Array) {
    let v = 0n;
    for (const b of [...r].reverse()) v = (v << 8n) | BigInt(b);
    return v;
  }
  return BigInt(r);
}

/** The context each model's writes get in these tests. */
const hosts = new WeakMap<EduDevice, DeviceContext>();

export function hostOf(edu: EduDevice): DeviceContext {
  const host = hosts.get(edu);
  if (host === undefined) throw new Error("an edu model made without setup()");
  return host;
}

/** A model whose callbacks get `host` (a fake one by default). */
export function setup<H extends DeviceContext = FakeHost>(
  host: H = fakeHost(RAM, 0x4000) as unknown as H,
  edu = new EduDevice(),
): { edu: EduDevice; host: H } {
  hosts.set(edu, host);
  return { edu, host };
}

export const r32 = (edu: EduDevice, off: number) => Number(value(edu.read(off, 4)));
export const r64 = (edu: EduDevice, off: number) => value(edu.read(off, 8));
export const w32 = (edu: EduDevice, off: number, v: number) =>
  edu.write(off, le(v, 4), hostOf(edu));
export const w64 = (edu: EduDevice, off: number, v: bigint) =>
  edu.write(off, le(v, 8), hostOf(edu));

/** factorial modulo 2^32, the slow obvious way. */
export function refFactorial(n: number): number {
  let r = 1n;
  for (let k = 2n; k <= BigInt(n); k++) r = (r * k) % 2n ** 32n;
  return Number(r);
}
