/** lspci rendering, field by field, against config spaces built from declared specs. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { className, hexDump, renderLspci, sizesToMasks } from "../../src/cli/lspci/index.js";
import {
  buildConfigSpace,
  ConfigSpace,
  type ConfigSpec,
  PCI_CAP_ID_MSI,
} from "../../src/pci/index.js";

/** Every capability kind, at fixed offsets so expectations do not depend on placement. */
const SPEC: ConfigSpec = {
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
    { kind: "pm", offset: 0x40, pmeSupport: 0x19 },
    { kind: "msi", offset: 0x50, vectors: 4, addr64: true, perVectorMask: true },
    { kind: "pcie", offset: 0x70 },
    {
      kind: "msix",
      offset: 0xb0,
      tableSize: 8,
      tableBar: 0,
      tableOffset: 0x2000,
      pbaBar: 0,
      pbaOffset: 0x3000,
    },
    { kind: "vendor", offset: 0xc0, data: new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01]) },
  ],
  extendedCapabilities: [
    { kind: "aer", offset: 0x100 },
    { kind: "dsn", offset: 0x148, serial: 0x1234_5678_9abc_def0n },
    { kind: "vsec", offset: 0x160, vsecId: 0x42, vsecRev: 1, data: new Uint8Array(8) },
  ],
};

function image(spec: ConfigSpec) {
  const img = buildConfigSpace(spec);
  return {
    config: img.bytes,
    barSizes: img.bars.map((b) => b?.size),
    romSize: img.rom?.size,
  };
}

function lines(text: string): string[] {
  return text.split("\n");
}

describe("lspci: terse and -v", () => {
  const dev = image(SPEC);

  it("prints the one-line summary with class, ids and revision", () => {
    assert.equal(
      renderLspci(dev),
      "00:00.0 Non-Volatile memory controller: Red Hat, Inc. Device 10f0 (rev 02)\n",
    );
    assert.equal(
      renderLspci({ ...dev, slot: "00:04.0" }).split(" ")[0],
      "00:04.0",
      "the slot is configurable",
    );
  });

  it("-v prints every declared field in lspci's form", () => {
    const out = lines(renderLspci(dev, { verbose: 1 }));
    assert.deepEqual(out, [
      "00:00.0 Non-Volatile memory controller: Red Hat, Inc. Device 10f0 (rev 02) (prog-if 02 [NVM Express])",
      "\tSubsystem: Red Hat, Inc. Device 0001",
      "\tFlags: fast devsel",
      "\tMemory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=16K]",
      "\tI/O ports at <unassigned> [disabled] [size=32]",
      "\tMemory at <unassigned> (64-bit, prefetchable) [disabled] [size=1M]",
      "\tMemory at <unassigned> (64-bit, non-prefetchable) [disabled] [size=8G]",
      "\tExpansion ROM at <unassigned> [disabled] [size=64K]",
      "\tCapabilities: [40] Power Management version 3",
      "\tCapabilities: [50] MSI: Enable- Count=1/4 Maskable+ 64bit+",
      "\tCapabilities: [70] Express Endpoint, MSI 00",
      "\tCapabilities: [b0] MSI-X: Enable- Count=8 Masked-",
      "\tCapabilities: [c0] Vendor Specific Information: Len=08 <?>",
      "\tCapabilities: [100] Advanced Error Reporting",
      "\tCapabilities: [148] Device Serial Number 12-34-56-78-9a-bc-de-f0",
      "\tCapabilities: [160] Vendor Specific Information: ID=0042 Rev=1 Len=010 <?>",
      "",
      "",
    ]);
  });

  it("without sizes, BARs are found by their type bits and printed without a size", () => {
    const out = renderLspci({ config: dev.config }, { verbose: 1 });
    assert.match(out, /\tMemory at <unassigned> \(64-bit, prefetchable\) \[disabled\]\n/);
    assert.doesNotMatch(out, /size=/);
    // A mem32 non-prefetchable BAR at address 0 has an all-zero register: invisible without sizes.
    assert.doesNotMatch(out, /\(32-bit, non-prefetchable\)/);
  });

  it("a conventional device has no extended capabilities and a 32-bit MSI", () => {
    const out = renderLspci(
      image({
        vendorId: 0x1234,
        deviceId: 0x11e8,
        subsystemVendorId: 0x1af4,
        subsystemId: 0x1100,
        classCode: 0x00ff00,
        revision: 0x10,
        bars: [{ kind: "mem32", size: 1 << 20 }],
        capabilities: [{ kind: "msi", vectors: 1 }],
      }),
      { verbose: 1 },
    );
    assert.equal(
      out,
      [
        "00:00.0 Unclassified device [00ff]: Device 1234:11e8 (rev 10)",
        "\tSubsystem: Red Hat, Inc. Device 1100",
        "\tFlags: fast devsel",
        "\tMemory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=1M]",
        "\tCapabilities: [40] MSI: Enable- Count=1/1 Maskable- 64bit-",
        "",
        "",
      ].join("\n"),
    );
  });
});

describe("lspci: -vv on a programmed device", () => {
  // Program the device the way a driver would, through the config space virtualizer.
  const cs = ConfigSpace.fromSpec(SPEC);
  cs.writeU32(0x10, 0xfebf0000);
  cs.writeU32(0x14, 0xc000);
  cs.writeU32(0x18, 0x00000000);
  cs.writeU32(0x1c, 0x8);
  cs.writeU32(0x30, 0xfeb80001);
  cs.writeU16(0x04, 0x0007);
  const msi = cs.findCapability(PCI_CAP_ID_MSI)!.offset;
  cs.writeU32(msi + 4, 0xfee00000);
  cs.writeU32(msi + 8, 0x1);
  cs.writeU16(msi + 12, 0x4021);
  cs.writeU32(msi + 16, 0x2);
  cs.writeU16(msi + 2, cs.readU16(msi + 2) | 0x1 | (1 << 4));
  const img = buildConfigSpace(SPEC);
  const text = renderLspci(
    {
      config: cs.snapshot(),
      barSizes: img.bars.map((b) => b?.size),
      romSize: img.rom?.size,
    },
    { verbose: 2 },
  );
  const out = lines(text);
  const after = (head: string, n: number) => {
    const i = out.indexOf(head);
    assert.ok(i >= 0, `missing line ${JSON.stringify(head)} in\n${text}`);
    return out.slice(i + 1, i + 1 + n);
  };

  it("decodes command and status", () => {
    assert.ok(
      out.includes(
        "\tControl: I/O+ Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx-",
      ),
    );
    assert.ok(
      out.includes(
        "\tStatus: Cap+ 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-",
      ),
    );
    assert.ok(out.includes("\tLatency: 0"), "bus master shows the latency timer");
  });

  it("prints programmed BAR and ROM addresses with sizes and flags", () => {
    assert.ok(out.includes("\tRegion 0: Memory at febf0000 (32-bit, non-prefetchable) [size=16K]"));
    assert.ok(out.includes("\tRegion 1: I/O ports at c000 [size=32]"));
    assert.ok(out.includes("\tRegion 2: Memory at 800000000 (64-bit, prefetchable) [size=1M]"));
    assert.ok(
      out.includes("\tRegion 4: Memory at <unassigned> (64-bit, non-prefetchable) [size=8G]"),
    );
    assert.ok(out.includes("\tExpansion ROM at feb80000 [size=64K]"));
  });

  it("decodes power management", () => {
    assert.deepEqual(after("\tCapabilities: [40] Power Management version 3", 2), [
      "\t\tFlags: PMEClk- DSI- D1- D2- AuxCurrent=0mA PME(D0+,D1-,D2-,D3hot+,D3cold+)",
      "\t\tStatus: D0 NoSoftRst+ PME-Enable- DSel=0 DScale=0 PME-",
    ]);
  });

  it("decodes MSI address, data, masking", () => {
    assert.deepEqual(after("\tCapabilities: [50] MSI: Enable+ Count=2/4 Maskable+ 64bit+", 2), [
      "\t\tAddress: 00000001fee00000  Data: 4021",
      "\t\tMasking: 00000002  Pending: 00000000",
    ]);
  });

  it("decodes the Express capability registers", () => {
    assert.deepEqual(after("\tCapabilities: [70] Express (v2) Endpoint, MSI 00", 6), [
      "\t\tDevCap:\tMaxPayload 128 bytes, PhantFunc 0, Latency L0s <64ns, L1 <1us",
      "\t\t\tExtTag+ AttnBtn- AttnInd- PwrInd- RBE+ FLReset+",
      "\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-",
      "\t\t\tRlxdOrd+ ExtTag- PhantFunc- AuxPwr- NoSnoop+ FLReset-",
      "\t\t\tMaxPayload 128 bytes, MaxReadReq 512 bytes",
      "\t\tDevSta:\tCorrErr- NonFatalErr- FatalErr- UnsupReq- AuxPwr- TransPend-",
    ]);
    assert.ok(out.includes("\t\tLnkCap:\tPort #0, Speed 2.5GT/s, Width x1, ASPM not supported"));
    assert.ok(out.includes("\t\tLnkSta:\tSpeed 2.5GT/s (ok), Width x1 (ok)"));
    assert.ok(out.includes("\t\tDevCap2: Completion Timeout: Range A, TimeoutDis+ NROPrPrP- LTR-"));
  });

  it("decodes MSI-X table and PBA locations", () => {
    assert.deepEqual(after("\tCapabilities: [b0] MSI-X: Enable- Count=8 Masked-", 2), [
      "\t\tVector table: BAR=0 offset=00002000",
      "\t\tPBA: BAR=0 offset=00003000",
    ]);
  });

  it("decodes AER and shows extended capability versions", () => {
    const aer = after("\tCapabilities: [100 v2] Advanced Error Reporting", 8);
    assert.equal(
      aer[0],
      "\t\tUESta:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol- UncorrIntErr-",
    );
    // The default severity marks DLP, SDES, FCP, RxOF and MalfTLP fatal.
    assert.match(aer[2]!, /^\t\tUESvrt:\tDLP\+ SDES\+ TLP- FCP\+ .*RxOF\+ MalfTLP\+/);
    assert.match(aer[4]!, /^\t\tCEMsk:\t.*AdvNonFatalErr\+/);
    assert.equal(
      aer[5],
      "\t\tAERCap:\tFirst Error Pointer: 00, ECRCGenCap- ECRCGenEn- ECRCChkCap- ECRCChkEn-",
    );
    assert.equal(aer[7], "\t\tHeaderLog: 00000000 00000000 00000000 00000000");
    assert.ok(
      out.includes("\tCapabilities: [148 v1] Device Serial Number 12-34-56-78-9a-bc-de-f0"),
    );
  });
});

describe("lspci: hex dumps", () => {
  const dev = image(SPEC);

  it("-x dumps the 64-byte header in lspci's format", () => {
    const out = lines(renderLspci(dev, { hex: 1 }));
    assert.equal(out.length, 1 + 4 + 2);
    assert.equal(out[1], "00: f4 1a f0 10 00 00 10 00 02 02 08 01 00 00 00 00");
    assert.equal(out[3], "20: 04 00 00 00 00 00 00 00 00 00 00 00 f4 1a 01 00");
    for (let row = 0; row < 4; row++) {
      const bytes = out[1 + row]!.slice(4)
        .split(" ")
        .map((h) => Number.parseInt(h, 16));
      assert.deepEqual(bytes, Array.from(dev.config.subarray(row * 16, row * 16 + 16)));
    }
  });

  it("-xxx dumps 256 bytes and -xxxx 4096 when the device has them", () => {
    assert.equal(lines(renderLspci(dev, { hex: 3 })).length, 1 + 16 + 2);
    const four = lines(renderLspci(dev, { hex: 4 }));
    assert.equal(four.length, 1 + 256 + 2);
    assert.match(four[1 + 16]!, /^100: 01 00 [0-9a-f]2 /, "the AER header (id 1, v2) at 0x100");
    const small = { config: dev.config.slice(0, 256) };
    assert.equal(lines(renderLspci(small, { hex: 4 })).length, 1 + 16 + 2, "only what exists");
  });

  it("hexDump handles a partial last row", () => {
    assert.deepEqual(hexDump(Uint8Array.of(1, 2, 0xab)), ["00: 01 02 ab"]);
  });
});

describe("lspci: helpers and robustness", () => {
  it("sizes BARs like the virtualizer's all-ones probe", () => {
    const cs = ConfigSpace.fromSpec(SPEC);
    const masks: number[] = [];
    for (let i = 0; i < 6; i++) {
      cs.writeU32(0x10 + 4 * i, 0xffffffff);
      masks.push(cs.readU32(0x10 + 4 * i));
    }
    cs.writeU32(0x30, 0xfffff800);
    const romMask = cs.readU32(0x30);
    const ours = sizesToMasks(buildConfigSpace(SPEC).bytes, image(SPEC));
    assert.deepEqual(ours.barMasks, masks);
    assert.equal(ours.romMask, romMask);
  });

  it("names classes like lspci without an ids file", () => {
    assert.equal(className(0x020000), "Ethernet controller");
    assert.equal(className(0x00ff00), "Unclassified device [00ff]");
    assert.equal(className(0x770000), "Class 7700");
  });

  it("prints unknown capabilities by id and never throws on arbitrary bytes", () => {
    const b = buildConfigSpace({ vendorId: 1, deviceId: 2, classCode: 0, capabilities: [] }).bytes;
    b[0x06] = 0x10;
    b[0x34] = 0x40;
    b[0x40] = 0x42;
    b[0x42] = 0x34;
    b[0x43] = 0x12;
    assert.match(
      renderLspci({ config: b }, { verbose: 1 }),
      /\tCapabilities: \[40\] #42 \[1234\]\n/,
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 4096 }),
        fc.array(fc.bigInt({ min: 0n, max: 1n << 40n }), { maxLength: 6 }),
        fc.integer({ min: 0, max: 3 }),
        (bytes, sizes, v) => {
          const text = renderLspci(
            { config: bytes, barSizes: sizes, romSize: 4096 },
            { verbose: v, hex: 4 },
          );
          assert.ok(text.endsWith("\n"));
        },
      ),
      { numRuns: 300 },
    );
  });
});
