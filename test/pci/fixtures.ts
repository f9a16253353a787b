/** Shared specs and probes for the pci tests (not a test file itself). */
import { ConfigSpace, type ConfigSpec } from "../../src/pci/index.js";

/** A function with every capability kind the builder supports. */
export const FULL_SPEC: ConfigSpec = {
  vendorId: 0x1af4,
  deviceId: 0x10f0,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x0001,
  classCode: 0x010802,
  revision: 0x02,
  interruptPin: 1,
  bars: [
    { kind: "mem32", size: 0x4000 },
    { kind: "io", size: 32 },
    { kind: "mem64", size: 1n << 20n, prefetchable: true },
    undefined,
    { kind: "mem64", size: 1n << 33n },
  ],
  rom: { size: 0x10000 },
  capabilities: [
    { kind: "pm", pmeSupport: 0x19 },
    { kind: "msi", vectors: 4, addr64: true, perVectorMask: true },
    { kind: "pcie" },
    { kind: "msix", tableSize: 16, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000 },
    { kind: "vendor", data: new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01]) },
  ],
  extendedCapabilities: [
    { kind: "aer" },
    { kind: "dsn", serial: 0x0011223344556677n },
    { kind: "vsec", vsecId: 0x42, vsecRev: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
  ],
};

/** A conventional (non-Express) function: 256-byte config space. */
export const CONVENTIONAL_SPEC: ConfigSpec = {
  vendorId: 0x1234,
  deviceId: 0x5678,
  classCode: 0x00ff00,
  bars: [{ kind: "mem32", size: 4096 }],
  capabilities: [{ kind: "msi", vectors: 1 }],
};

export function full(): ConfigSpace {
  return ConfigSpace.fromSpec(FULL_SPEC);
}

export function capOffset(cs: ConfigSpace, id: number, extended = false): number {
  const c = cs.findCapability(id, extended);
  if (!c) throw new Error(`capability ${id} missing`);
  return c.offset;
}

/**
 * Measures a byte's behaviour through the public API only: which bits follow
 * client writes, which are cleared by writing 1 after the device set them, and
 * which the device model can drive (deviceWrite).
 */
export function probe(cs: ConfigSpace, o: number): { write: number; rw1c: number; dev: number } {
  cs.reset();
  cs.deviceWrite(o, Uint8Array.of(0xff));
  const devOnes = cs.readU8(o);
  cs.deviceWrite(o, Uint8Array.of(0x00));
  const dev = devOnes & ~cs.readU8(o) & 0xff;
  cs.reset();
  cs.write(o, Uint8Array.of(0xff));
  const ones = cs.readU8(o);
  cs.write(o, Uint8Array.of(0x00));
  const zeros = cs.readU8(o);
  const write = ones & ~zeros & 0xff;
  cs.reset();
  cs.deviceWrite(o, Uint8Array.of(0xff));
  cs.write(o, Uint8Array.of(0x00));
  const kept = cs.readU8(o);
  cs.write(o, Uint8Array.of(0xff));
  const cleared = cs.readU8(o);
  cs.reset();
  return { write, rw1c: kept & ~cleared & ~write & 0xff, dev };
}

export function bytes(...v: number[]): Uint8Array {
  return Uint8Array.from(v);
}
