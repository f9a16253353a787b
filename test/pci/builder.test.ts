/** Builder layout and validation. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildConfigSpace,
  ConfigSpace,
  type ConfigSpec,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  walkCapabilities,
} from "../../src/pci/index.js";
import { FULL_SPEC } from "./fixtures.js";

const BASE: ConfigSpec = { vendorId: 0x1234, deviceId: 0x0001, classCode: 0x058000 };

function rejects(spec: Partial<ConfigSpec>, code: string, message: RegExp): void {
  assert.throws(
    () => buildConfigSpace({ ...BASE, ...spec }),
    (e: Error & { code?: string }) => {
      assert.equal(e.name, "VfioError");
      assert.equal(e.code, code);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe("layout", () => {
  it("header fields land where pci_regs.h says", () => {
    const b = buildConfigSpace(FULL_SPEC).bytes;
    const dv = new DataView(b.buffer);
    assert.equal(dv.getUint16(0x00, true), 0x1af4);
    assert.equal(dv.getUint16(0x02, true), 0x10f0);
    assert.equal(dv.getUint32(0x08, true), 0x01080202);
    assert.equal(dv.getUint16(0x2c, true), 0x1af4);
    assert.equal(dv.getUint16(0x2e, true), 0x0001);
    assert.equal(b[0x3d], 1);
    assert.equal(b[0x0e], 0);
  });

  it("standard capabilities are dword aligned from 0x40 and chained; extended from 0x100", () => {
    const w = walkCapabilities(buildConfigSpace(FULL_SPEC).bytes);
    assert.deepEqual(w.problems, []);
    assert.deepEqual(
      w.standard.map((c) => [c.id, c.offset, c.length]),
      [
        [PCI_CAP_ID_PM, 0x40, 8],
        [PCI_CAP_ID_MSI, 0x48, 24],
        [PCI_CAP_ID_EXP, 0x60, 60],
        [PCI_CAP_ID_MSIX, 0x9c, 12],
        [PCI_CAP_ID_VNDR, 0xa8, 8],
      ],
    );
    assert.deepEqual(
      w.extended.map((c) => [c.id, c.offset, c.length, c.version]),
      [
        [1, 0x100, 0x48, 2],
        [3, 0x148, 12, 1],
        [0xb, 0x154, 16, 1],
      ],
    );
  });

  it("a 10-byte MSI capability is followed at the next dword", () => {
    const w = walkCapabilities(
      buildConfigSpace({ ...BASE, capabilities: [{ kind: "msi", vectors: 1 }, { kind: "pm" }] })
        .bytes,
    );
    assert.deepEqual(
      w.standard.map((c) => [c.offset, c.length]),
      [
        [0x40, 10],
        [0x4c, 8],
      ],
    );
  });

  it("explicit offsets are honoured; automatic ones fill around them; the chain is in address order", () => {
    const b = buildConfigSpace({
      ...BASE,
      capabilities: [
        { kind: "pm" },
        { kind: "msi", vectors: 2, offset: 0x44 },
        { kind: "vendor", data: new Uint8Array(1) },
      ],
    }).bytes;
    // PM (8 bytes) does not fit before the explicit MSI at 0x44; the 4-byte vendor capability does.
    assert.equal(b[0x34], 0x40);
    const w = walkCapabilities(b);
    assert.deepEqual(
      w.standard.map((c) => [c.id, c.offset]),
      [
        [PCI_CAP_ID_VNDR, 0x40],
        [PCI_CAP_ID_MSI, 0x44],
        [PCI_CAP_ID_PM, 0x50],
      ],
    );
  });

  it("extended capabilities with explicit offsets chain from 0x100", () => {
    const cs = ConfigSpace.fromSpec({
      ...BASE,
      capabilities: [{ kind: "pcie" }],
      extendedCapabilities: [
        { kind: "dsn", serial: 1n, offset: 0x200 },
        { kind: "aer", offset: 0x100 },
      ],
    });
    assert.deepEqual(
      cs.capabilities.filter((c) => c.extended).map((c) => c.offset),
      [0x100, 0x200],
    );
  });

  it("without capabilities the list is empty and CAP_LIST clear", () => {
    const b = buildConfigSpace(BASE).bytes;
    assert.equal(b.length, 256);
    assert.equal(b[0x34], 0);
    assert.equal(b[0x06]! & 0x10, 0);
  });
});

describe("validation", () => {
  it("rejects bad BAR sizes and placements", () => {
    rejects({ bars: [{ kind: "mem32", size: 3000 }] }, "EINVAL", /power of two/);
    rejects({ bars: [{ kind: "mem32", size: 8 }] }, "EINVAL", /outside/);
    rejects({ bars: [{ kind: "io", size: 2 }] }, "EINVAL", /outside/);
    rejects({ bars: [{ kind: "io", size: 512 }] }, "EINVAL", /outside/);
    rejects({ bars: [{ kind: "mem32", size: 2n ** 32n }] }, "EINVAL", /outside/);
    rejects({ bars: [{ kind: "mem32", size: 1.5 }] }, "EINVAL", /integer/);
    rejects(
      { bars: [...new Array(5).fill(undefined), { kind: "mem64", size: 4096 }] },
      "EINVAL",
      /BAR5 cannot be 64-bit/,
    );
    rejects(
      {
        bars: [
          { kind: "mem64", size: 4096 },
          { kind: "io", size: 4 },
        ],
      },
      "EINVAL",
      /upper half/,
    );
    rejects({ bars: new Array(7).fill(undefined) }, "EINVAL", /6 BARs/);
  });

  it("rejects bad ROM sizes", () => {
    rejects({ rom: { size: 1024 } }, "EINVAL", /ROM size/);
    rejects({ rom: { size: 3072 } }, "EINVAL", /power of two/);
  });

  it("rejects bad header values", () => {
    rejects({ interruptPin: 5 }, "EINVAL", /interruptPin/);
    rejects({ classCode: 0x1000000 }, "EINVAL", /classCode/);
    rejects({ vendorId: 0xffff }, "EINVAL", /vendorId/);
    rejects({ revision: 256 }, "EINVAL", /revision/);
  });

  it("rejects overlapping, misaligned and out-of-range capability offsets", () => {
    rejects(
      {
        capabilities: [
          { kind: "pm", offset: 0x40 },
          { kind: "msi", vectors: 1, offset: 0x44 },
        ],
      },
      "EINVAL",
      /overlaps/,
    );
    rejects({ capabilities: [{ kind: "pm", offset: 0x42 }] }, "EINVAL", /dword aligned/);
    rejects({ capabilities: [{ kind: "pm", offset: 0x3c }] }, "EINVAL", /offset/);
    rejects({ capabilities: [{ kind: "pm", offset: 0xfc }] }, "EINVAL", /offset/);
  });

  it("rejects capabilities that do not fit (ENOSPC)", () => {
    const many = Array.from({ length: 5 }, () => ({
      kind: "vendor" as const,
      data: new Uint8Array(45),
    }));
    rejects({ capabilities: many }, "ENOSPC", /no room/);
  });

  it("rejects bad MSI and MSI-X parameters", () => {
    rejects({ capabilities: [{ kind: "msi", vectors: 3 }] }, "EINVAL", /power of two/);
    rejects({ capabilities: [{ kind: "msi", vectors: 64 }] }, "EINVAL", /MSI vectors/);
    const bars = [
      { kind: "mem32" as const, size: 4096 },
      { kind: "io" as const, size: 16 },
    ];
    const msix = {
      kind: "msix" as const,
      tableSize: 8,
      tableBar: 0,
      tableOffset: 0,
      pbaBar: 0,
      pbaOffset: 0x800,
    };
    assert.ok(buildConfigSpace({ ...BASE, bars, capabilities: [msix] }));
    rejects({ bars, capabilities: [{ ...msix, tableSize: 0 }] }, "EINVAL", /tableSize/);
    rejects({ bars, capabilities: [{ ...msix, tableSize: 2049 }] }, "EINVAL", /tableSize/);
    rejects({ bars, capabilities: [{ ...msix, tableSize: 257 }] }, "EINVAL", /does not fit BAR0/);
    rejects(
      { bars, capabilities: [{ ...msix, pbaOffset: 0x1000 }] },
      "EINVAL",
      /PBA .* does not fit/,
    );
    rejects({ bars, capabilities: [{ ...msix, pbaOffset: 0x40 }] }, "EINVAL", /overlap/);
    rejects(
      { bars, capabilities: [{ ...msix, tableBar: 1 }] },
      "EINVAL",
      /not an implemented memory BAR/,
    );
    rejects(
      { bars, capabilities: [{ ...msix, pbaBar: 3 }] },
      "EINVAL",
      /not an implemented memory BAR/,
    );
    rejects({ bars, capabilities: [{ ...msix, tableOffset: 4 }] }, "EINVAL", /8-byte aligned/);
  });

  it("rejects duplicate unique capabilities and extended ones without PCI Express", () => {
    rejects({ capabilities: [{ kind: "pm" }, { kind: "pm" }] }, "EINVAL", /only once/);
    rejects({ extendedCapabilities: [{ kind: "aer" }] }, "EINVAL", /PCI Express/);
    rejects(
      { capabilities: [{ kind: "pcie" }], extendedCapabilities: [{ kind: "aer", offset: 0x200 }] },
      "EINVAL",
      /0x100/,
    );
  });

  it("rejects oversize vendor data", () => {
    rejects({ capabilities: [{ kind: "vendor", data: new Uint8Array(253) }] }, "EINVAL", /vendor/);
    rejects(
      {
        capabilities: [{ kind: "pcie" }],
        extendedCapabilities: [{ kind: "vsec", vsecId: 1, data: new Uint8Array(4090) }],
      },
      "EINVAL",
      /VSEC length/,
    );
  });
});

describe("virtualizing foreign images", () => {
  const good = () =>
    buildConfigSpace({ ...BASE, capabilities: [{ kind: "pm" }, { kind: "msi", vectors: 1 }] });

  it("rejects a capability cycle, wrong sizes and non-endpoint headers", () => {
    const cyc = good();
    cyc.bytes[0x48 + 1] = 0x40; // MSI points back at PM
    assert.throws(() => new ConfigSpace(cyc), { code: "EINVAL", message: /loops/ });
    const img = good();
    assert.throws(() => new ConfigSpace({ ...img, bytes: img.bytes.subarray(0, 128) }), {
      code: "EINVAL",
    });
    const bridge = good();
    bridge.bytes[0x0e] = 1;
    assert.throws(() => new ConfigSpace(bridge), { code: "EINVAL", message: /type 0/ });
  });

  it("treats unknown capabilities as read-only up to the next one", () => {
    const img = good();
    img.bytes[0x40] = 0x0c; // an id we have no table for
    const cs = new ConfigSpace(img);
    const unknown = cs.findCapability(0x0c)!;
    assert.equal(unknown.length, 8);
    const before = cs.read(0x40, 8);
    cs.write(0x40, new Uint8Array(8).fill(0xff));
    assert.deepEqual(cs.read(0x40, 8), before);
  });
});
