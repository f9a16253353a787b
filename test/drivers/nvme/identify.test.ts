import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeIdentifyController,
  decodeIdentifyNamespace,
  decodeNamespaceList,
} from "../../../src/drivers/nvme/identify.js";
import { decodeSmartLog } from "../../../src/drivers/nvme/log-pages.js";
import { decodeCap, doorbellOffset, enableCc, encodeAqa } from "../../../src/drivers/nvme/regs.js";

function ascii(buf: Uint8Array, offset: number, length: number, text: string): void {
  buf.fill(0x20, offset, offset + length);
  buf.set(new TextEncoder().encode(text), offset);
}

describe("NVMe Identify structures", () => {
  it("decodes a controller as QEMU fills it", () => {
    const d = new Uint8Array(4096);
    const v = new DataView(d.buffer);
    v.setUint16(0, 0x1b36, true);
    v.setUint16(2, 0x1af4, true);
    ascii(d, 4, 20, "vfiots-nvme");
    ascii(d, 24, 40, "QEMU NVMe Ctrl");
    ascii(d, 64, 8, "7.2.22");
    d[77] = 7;
    v.setUint16(78, 0, true);
    v.setUint32(80, 0x00010400, true);
    d[512] = 0x66;
    d[513] = 0x44;
    v.setUint32(516, 256, true);
    v.setUint16(520, 0x000c, true);
    d[525] = 1;
    d.set(new TextEncoder().encode("nqn.2019-08.org.qemu:vfiots"), 768);
    const c = decodeIdentifyController(d);
    assert.equal(c.vendorId, 0x1b36);
    assert.equal(c.subsystemVendorId, 0x1af4);
    assert.equal(c.serial, "vfiots-nvme");
    assert.equal(c.model, "QEMU NVMe Ctrl");
    assert.equal(c.firmware, "7.2.22");
    assert.equal(c.mdts, 7);
    assert.equal(c.version, 0x00010400);
    assert.deepEqual([c.sqesMin, c.sqesMax, c.cqesMin, c.cqesMax], [6, 6, 4, 4]);
    assert.equal(c.namespaces, 256);
    assert.equal(c.oncs, 0x000c);
    assert.equal(c.volatileWriteCache, true);
    assert.equal(c.subsystemNqn, "nqn.2019-08.org.qemu:vfiots");
  });

  it("decodes a namespace: size, formats, the format in use and its block size", () => {
    const d = new Uint8Array(4096);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, 131072n, true);
    v.setBigUint64(8, 131072n, true);
    d[25] = 1; // two formats
    d[26] = 1; // the second in use
    d[33] = 1; // deallocated blocks read as zeroes
    v.setUint32(128, 9 << 16, true);
    v.setUint32(132, (12 << 16) | 8, true);
    const ns = decodeIdentifyNamespace(d);
    assert.equal(ns.size, 131072n);
    assert.equal(ns.lbaFormats.length, 2);
    assert.equal(ns.formatIndex, 1);
    assert.equal(ns.blockSize, 4096);
    assert.equal(ns.lbaFormats[1]!.metadataSize, 8);
    assert.equal(ns.deallocateFeatures, 1);
  });

  it("decodes any 4 KiB without throwing, and reports an unusable format as block size 0 (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), (d) => {
        const c = decodeIdentifyController(d);
        assert.ok(c.serial.length <= 20 && c.model.length <= 40);
        const ns = decodeIdentifyNamespace(d);
        assert.ok(ns.lbaFormats.length >= 1 && ns.lbaFormats.length <= 64);
        assert.ok(
          ns.blockSize === 0 || (ns.blockSize >= 512 && Number.isInteger(Math.log2(ns.blockSize))),
        );
        const list = decodeNamespaceList(d);
        assert.ok(list.every((n) => n !== 0) && list.length <= 1024);
      }),
      { numRuns: 200 },
    );
    assert.throws(() => decodeIdentifyController(new Uint8Array(100)), RangeError);
  });

  it("reads the active namespace list up to its first zero", () => {
    const d = new Uint8Array(4096);
    new Uint32Array(d.buffer).set([1, 2, 7, 0, 9]);
    assert.deepEqual(decodeNamespaceList(d), [1, 2, 7]);
  });

  it("decodes SMART counters as 128-bit little-endian values", () => {
    const d = new Uint8Array(512);
    const v = new DataView(d.buffer);
    v.setUint16(1, 323, true);
    v.setBigUint64(80, 5n, true);
    v.setBigUint64(88, 1n, true); // bit 64 of host write commands
    const s = decodeSmartLog(d);
    assert.equal(s.temperatureKelvin, 323);
    assert.equal(s.hostWriteCommands, (1n << 64n) + 5n);
  });
});

describe("NVMe controller registers", () => {
  it("decode CAP: MQES 0's based, TO in 500 ms units, DSTRD stride, page sizes", () => {
    // QEMU's: MQES 0x7ff, CQR, TO 0xf, DSTRD 0, CSS NVM + I/O sets, MPSMIN 0, MPSMAX 4.
    const cap = decodeCap(0x7ffn | (1n << 16n) | (0xfn << 24n) | (0x41n << 37n) | (4n << 52n));
    assert.equal(cap.maxQueueEntries, 2048);
    assert.equal(cap.contiguousQueuesRequired, true);
    assert.equal(cap.timeoutMs, 7500);
    assert.equal(cap.doorbellStride, 4);
    assert.equal(cap.commandSets, 0x41);
    assert.equal(cap.minPageSize, 4096);
    assert.equal(cap.maxPageSize, 65536);
    assert.equal(decodeCap(2n << 32n).doorbellStride, 16);
  });

  it("place doorbells at the CAP.DSTRD stride and encode CC and AQA", () => {
    assert.equal(doorbellOffset(0, false, 4), 0x1000);
    assert.equal(doorbellOffset(0, true, 4), 0x1004);
    assert.equal(doorbellOffset(3, true, 16), 0x1000 + 7 * 16);
    assert.equal(enableCc(), 0x00460001);
    assert.equal(encodeAqa(32, 16), (15 << 16) | 31);
  });
});
