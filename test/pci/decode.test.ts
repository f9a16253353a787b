/** lspci-style decoding and the capability walk on trusted and hostile bytes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VfioError } from "../../src/errors.js";
import {
  buildConfigSpace,
  ConfigSpace,
  decodeConfigSpace,
  decodeHeader,
  PCI_CAP_ID_MSI,
  walkCapabilities,
} from "../../src/pci/index.js";
import { FULL_SPEC } from "./fixtures.js";

describe("decodeConfigSpace on a built image", () => {
  const image = buildConfigSpace(FULL_SPEC).bytes;
  const d = decodeConfigSpace(image);

  it("decodes the header", () => {
    assert.deepEqual(d.problems, []);
    assert.equal(d.header.vendorId, 0x1af4);
    assert.equal(d.header.deviceId, 0x10f0);
    assert.equal(d.header.classCode, 0x010802);
    assert.deepEqual([d.header.baseClass, d.header.subclass, d.header.progIf], [1, 8, 2]);
    assert.equal(d.header.revision, 2);
    assert.equal(d.header.interruptPin, 1);
    assert.equal(d.header.capabilitiesPointer, 0x40);
    assert.equal(d.header.headerType, 0);
  });

  it("decodes BARs without masks by their type bits", () => {
    assert.deepEqual(
      d.bars.map((b) => [b.index, b.kind, b.prefetchable, b.size]),
      [
        [1, "io", false, undefined],
        [2, "mem64", true, undefined],
        [4, "mem64", false, undefined],
      ],
    );
  });

  it("decodes every capability kind", () => {
    const [pm, msi, pcie, msix, vendor] = d.capabilities;
    assert.ok(pm?.kind === "pm" && msi?.kind === "msi" && pcie?.kind === "pcie");
    assert.ok(msix?.kind === "msix" && vendor?.kind === "vendor");
    assert.deepEqual(
      [pm.version, pm.pmeSupport, pm.noSoftReset, pm.powerState, pm.next],
      [3, 0x19, true, 0, 0x48],
    );
    assert.deepEqual(
      [msi.capableVectors, msi.addr64, msi.perVectorMask, msi.enabled, msi.length],
      [4, true, true, false, 24],
    );
    assert.equal(pcie.portTypeName, "Endpoint");
    assert.equal(pcie.version, 2);
    assert.deepEqual(
      [pcie.devcap.flr, pcie.devcap.maxPayloadSupported, pcie.devctl.maxReadRequest],
      [true, 128, 512],
    );
    assert.deepEqual([pcie.lnkcap.maxSpeed, pcie.lnksta.width], ["2.5GT/s", 1]);
    assert.equal(pcie.v2?.lnkcap2, 0x2);
    assert.deepEqual(
      [msix.tableSize, msix.tableBar, msix.tableOffset, msix.pbaOffset],
      [16, 0, 0x2000, 0x3000],
    );
    assert.deepEqual(vendor.data, Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x01));
    assert.equal(vendor.next, 0);
    const [aer, dsn, vsec] = d.extendedCapabilities;
    assert.ok(aer?.kind === "aer" && dsn?.kind === "dsn" && vsec?.kind === "vsec");
    assert.deepEqual(
      [aer.version, aer.uncorSeverity, aer.corMask, aer.next],
      [2, 0x62030, 0x2000, 0x148],
    );
    assert.equal(dsn.serial, 0x0011223344556677n);
    assert.deepEqual([vsec.vsecId, vsec.vsecRev, vsec.vsecLength, vsec.next], [0x42, 1, 16, 0]);
    assert.deepEqual(vsec.data, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  });

  it("reflects programmed state", () => {
    const cs = ConfigSpace.fromSpec(FULL_SPEC);
    const off = cs.findCapability(PCI_CAP_ID_MSI)!.offset;
    cs.writeU32(off + 4, 0xfee00000);
    cs.writeU16(off + 2, 0x0021);
    const msi = decodeConfigSpace(cs.snapshot()).capabilities[1];
    assert.ok(msi?.kind === "msi");
    assert.deepEqual([msi.enabled, msi.enabledVectors, msi.address], [true, 4, 0xfee00000n]);
  });
});

describe("decoding malformed dumps", () => {
  it("a 64-byte dump decodes the header and reports the unreachable list", () => {
    const d = decodeConfigSpace(buildConfigSpace(FULL_SPEC).bytes.slice(0, 64));
    assert.equal(d.header.vendorId, 0x1af4);
    assert.equal(d.capabilities.length, 0);
    assert.match(d.problems.join("\n"), /outside/);
  });

  it("shorter than a header is EINVAL", () => {
    assert.throws(() => decodeHeader(new Uint8Array(63)), { name: "VfioError", code: "EINVAL" });
  });

  it("a standard capability cycle ends the walk and is reported", () => {
    const b = buildConfigSpace(FULL_SPEC).bytes;
    b[0xa8 + 1] = 0x48; // vendor -> MSI again
    const w = walkCapabilities(b);
    assert.equal(w.standard.length, 5);
    assert.match(w.problems.join(), /loops back to 0x48/);
  });

  it("an extended capability cycle ends the walk and is reported", () => {
    const b = buildConfigSpace(FULL_SPEC).bytes;
    b[0x154 + 2] = (b[0x154 + 2]! & 0x0f) | 0x00; // VSEC next -> 0x100
    b[0x154 + 3] = 0x10;
    const w = walkCapabilities(b);
    assert.equal(w.extended.length, 3);
    assert.match(w.problems.join(), /loops back to 0x100/);
  });

  it("a capability running past config space is reported and truncated", () => {
    const b = buildConfigSpace({
      vendorId: 1,
      deviceId: 1,
      classCode: 0,
      capabilities: [{ kind: "pm" }],
    }).bytes;
    b[0x34] = 0xfc;
    b[0xfc] = 0x05; // MSI, 64-bit + mask: 24 bytes from 0xfc
    b[0xfe] = 0x80;
    b[0xff] = 0x01;
    const w = walkCapabilities(b);
    assert.deepEqual(
      w.standard.map((c) => [c.offset, c.length]),
      [[0xfc, 4]],
    );
    assert.match(w.problems.join(), /runs past/);
    assert.ok(decodeConfigSpace(b).capabilities[0]?.kind === "msi");
  });

  it("never throws anything but VfioError, and stays in bounds, on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4200 }), (b) => {
        try {
          const d = decodeConfigSpace(b);
          for (const c of [...d.capabilities, ...d.extendedCapabilities]) {
            assert.ok(c.offset + c.length <= Math.max(b.length, 0));
          }
        } catch (e) {
          assert.ok(e instanceof VfioError, String(e));
          assert.ok(b.length < 64);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on a mutated valid image, and the walk stays bounded", () => {
    const base = buildConfigSpace(FULL_SPEC).bytes;
    const mutation = fc.array(
      fc.tuple(fc.integer({ min: 0, max: 0x1ff }), fc.integer({ min: 0, max: 255 })),
      {
        minLength: 1,
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(mutation, (muts) => {
        const b = base.slice();
        b[0x06] = 0x10;
        for (const [o, v] of muts) b[o] = v;
        const d = decodeConfigSpace(b);
        assert.ok(d.capabilities.length <= 48);
        assert.ok(d.extendedCapabilities.length <= 960);
        // The virtualizer either accepts the image or refuses it with EINVAL.
        try {
          new ConfigSpace({ bytes: b, bars: [], rom: undefined });
        } catch (e) {
          assert.ok(e instanceof VfioError && e.code === "EINVAL", String(e));
        }
      }),
      { numRuns: 300 },
    );
  });
});
