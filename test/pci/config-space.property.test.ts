/**
 * Properties of the virtualizer under arbitrary client writes: multi-byte
 * accesses equal byte-at-a-time, read-only bits never change, RW1C bits are
 * never set by the client, the capability chain survives, reset restores.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  buildConfigSpace,
  ConfigSpace,
  type ConfigSpec,
  walkCapabilities,
} from "../../src/pci/index.js";
import { CONVENTIONAL_SPEC, FULL_SPEC } from "./fixtures.js";

interface Access {
  offset: number;
  data: Uint8Array;
}

/** Writes biased towards the owned areas (header, standard capabilities, start of extended space). */
function accessArb(size: number): fc.Arbitrary<Access> {
  const offset = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: Math.min(size, 0x200) - 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: size - 1 }) },
  );
  const byte = fc.oneof(fc.constant(0xff), fc.constant(0x00), fc.integer({ min: 0, max: 255 }));
  return offset.chain((o) =>
    fc
      .array(byte, { minLength: 1, maxLength: Math.min(16, size - o) })
      .map((arr) => ({ offset: o, data: Uint8Array.from(arr) })),
  );
}

const SPECS: [string, ConfigSpec][] = [
  ["full Express function", FULL_SPEC],
  ["conventional function", CONVENTIONAL_SPEC],
  [
    "MSI 32-bit masked + MSI-X in a mem64 BAR",
    {
      vendorId: 0x8086,
      deviceId: 0x1234,
      classCode: 0x020000,
      interruptPin: 2,
      bars: [undefined, undefined, { kind: "mem64", size: 0x10000 }],
      capabilities: [
        {
          kind: "msix",
          tableSize: 2048,
          tableBar: 2,
          tableOffset: 0,
          pbaBar: 2,
          pbaOffset: 0x8000,
          offset: 0xb0,
        },
        { kind: "msi", vectors: 32, perVectorMask: true },
        { kind: "pm", noSoftReset: false },
      ],
    },
  ],
];

function chain(cs: ConfigSpace): string {
  const w = walkCapabilities(cs.snapshot());
  assert.deepEqual(w.problems, []);
  return JSON.stringify([...w.standard, ...w.extended]);
}

for (const [name, spec] of SPECS) {
  describe(`virtualizer properties: ${name}`, () => {
    const size = ConfigSpace.fromSpec(spec).size;

    it("a multi-byte write equals the same bytes written one at a time", () => {
      fc.assert(
        fc.property(fc.array(accessArb(size), { minLength: 1, maxLength: 20 }), (accesses) => {
          const whole = ConfigSpace.fromSpec(spec);
          const bytewise = ConfigSpace.fromSpec(spec);
          for (const a of accesses) {
            whole.write(a.offset, a.data);
            for (let i = 0; i < a.data.length; i++)
              bytewise.write(a.offset + i, a.data.subarray(i, i + 1));
            assert.deepEqual(whole.snapshot(), bytewise.snapshot());
            const n = a.data.length;
            const joined = Uint8Array.from(
              { length: n },
              (_, i) => bytewise.read(a.offset + i, 1)[0]!,
            );
            assert.deepEqual(whole.read(a.offset, n), joined);
          }
        }),
        { numRuns: 150 },
      );
    });

    it("client writes never change read-only bits, never set RW1C bits, keep the chain; reset restores", () => {
      const reference = ConfigSpace.fromSpec(spec);
      const expectedChain = chain(reference);
      fc.assert(
        fc.property(fc.array(accessArb(size), { minLength: 1, maxLength: 40 }), (accesses) => {
          const cs = ConfigSpace.fromSpec(spec);
          const initial = cs.initialImage();
          for (const a of accesses) cs.write(a.offset, a.data);
          const live = cs.snapshot();
          for (let o = 0; o < size; o++) {
            const p = cs.permissionsAt(o);
            const ro = ~(p.write | p.rw1c) & 0xff;
            assert.equal((live[o]! ^ initial[o]!) & ro, 0, `read-only bits changed at ${o}`);
            assert.equal(live[o]! & ~initial[o]! & p.rw1c, 0, `RW1C bit set by client at ${o}`);
            if (!p.owned) assert.equal(live[o], 0);
          }
          assert.equal(chain(cs), expectedChain);
          cs.reset();
          assert.deepEqual(cs.snapshot(), initial);
        }),
        { numRuns: 150 },
      );
    });

    it("the reset image is the builder's image", () => {
      assert.deepEqual(ConfigSpace.fromSpec(spec).initialImage(), buildConfigSpace(spec).bytes);
    });
  });
}

describe("device writes", () => {
  it("never change virtualized bits", () => {
    fc.assert(
      fc.property(fc.array(accessArb(4096), { minLength: 1, maxLength: 30 }), (accesses) => {
        const cs = ConfigSpace.fromSpec(FULL_SPEC);
        const initial = cs.initialImage();
        for (const a of accesses) cs.deviceWrite(a.offset, a.data);
        const live = cs.snapshot();
        for (let o = 0; o < cs.size; o++) {
          assert.equal(
            (live[o]! ^ initial[o]!) & cs.permissionsAt(o).virt,
            0,
            `virtual bits changed at ${o}`,
          );
        }
      }),
      { numRuns: 100 },
    );
  });
});
