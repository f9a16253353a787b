import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  dmaUnmap,
  encodeDmaMap,
  encodeIrqSet,
  iommuInfo,
  regionInfo,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_RESET,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
} from "../../../src/client/kernel/uapi.js";
import { ProtocolError } from "../../../src/protocol/index.js";

function le(bytes: Uint8Array) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

describe("kernel VFIO uAPI layouts", () => {
  it("numbers the ioctls as linux/vfio.h does (_IO(';', 100 + n))", () => {
    assert.equal(VFIO_GET_API_VERSION, 0x3b64);
    assert.equal(VFIO_GROUP_GET_DEVICE_FD, 0x3b6a);
    assert.equal(VFIO_DEVICE_GET_INFO, 0x3b6b);
    assert.equal(VFIO_DEVICE_RESET, 0x3b6f);
    assert.equal(VFIO_IOMMU_GET_INFO, 0x3b70);
    assert.equal(VFIO_IOMMU_MAP_DMA, 0x3b71);
    assert.equal(VFIO_IOMMU_UNMAP_DMA, 0x3b72);
  });

  it("lays out vfio_irq_set with s32 eventfds after the 20-byte header", () => {
    const b = encodeIrqSet({ flags: 0x24, index: 1, start: 2, count: 2, fds: [7, -1] });
    const v = le(b);
    assert.equal(b.byteLength, 28);
    assert.deepEqual(
      [0, 4, 8, 12, 16].map((o) => v.getUint32(o, true)),
      [28, 0x24, 1, 2, 2],
    );
    assert.deepEqual([v.getInt32(20, true), v.getInt32(24, true)], [7, -1]);
    const bools = encodeIrqSet({
      flags: 0x22,
      index: 0,
      start: 0,
      count: 3,
      bools: Uint8Array.of(1, 0, 1),
    });
    assert.deepEqual([...bools.subarray(20)], [1, 0, 1]);
    assert.equal(le(bools).getUint32(0, true), 23);
  });

  it("lays out vfio_iommu_type1_dma_map and reads back what unmap says it unmapped", () => {
    const m = le(encodeDmaMap(0x7f0000001000n, 0x10000n, 0x2000n, true, false));
    assert.deepEqual(
      [
        m.getUint32(0, true),
        m.getUint32(4, true),
        m.getBigUint64(8, true),
        m.getBigUint64(16, true),
        m.getBigUint64(24, true),
      ],
      [32, 1, 0x7f0000001000n, 0x10000n, 0x2000n],
    );
    const u = dmaUnmap.encode(0x10000n, 0x2000n);
    assert.equal(u.byteLength, 24);
    le(u).setBigUint64(16, 0x1000n, true); // the kernel rewrites size
    assert.equal(dmaUnmap.unmapped(u), 0x1000n);
  });

  it("decodes VFIO_IOMMU_GET_INFO with the IOVA-range and DMA-available capabilities", () => {
    const b = new Uint8Array(24 + 16 + 32 + 12);
    const v = le(b);
    v.setUint32(0, b.byteLength, true);
    v.setUint32(4, 3, true); // PGSIZES | CAPS
    v.setBigUint64(8, 0x40201000n, true);
    v.setUint32(16, 24, true);
    // IOVA ranges at 24: header, nr_iovas 2, reserved, ranges
    v.setUint16(24, 1, true);
    v.setUint16(26, 1, true);
    v.setUint32(28, 72, true);
    v.setUint32(32, 2, true);
    v.setBigUint64(40, 0n, true);
    v.setBigUint64(48, 0xfedfffffn, true);
    v.setBigUint64(56, 0xfef00000n, true);
    v.setBigUint64(64, 0x7fffffffffn, true);
    // DMA avail at 72
    v.setUint16(72, 3, true);
    v.setUint16(74, 1, true);
    v.setUint32(76, 0, true);
    v.setUint32(80, 65530, true);
    assert.deepEqual(iommuInfo.decode(b), {
      pgsizes: 0x40201000n,
      iovaRanges: [
        { start: 0n, end: 0xfedfffffn },
        { start: 0xfef00000n, end: 0x7fffffffffn },
      ],
      dmaAvail: 65530,
    });
  });

  it("ends every capability chain the kernel could return, looping or not, without hanging", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 24, maxLength: 160 }), (bytes) => {
        le(bytes).setUint32(4, 3, true);
        try {
          iommuInfo.decode(bytes);
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
    const loop = new Uint8Array(40);
    le(loop).setUint32(0, 40, true);
    le(loop).setUint32(4, 2, true);
    le(loop).setUint32(16, 24, true);
    le(loop).setUint32(28, 24, true); // next points at itself
    assert.throws(() => iommuInfo.decode(loop), ProtocolError);
  });

  it("decodes region info with a sparse-mmap capability the kernel asked room for", () => {
    const b = regionInfo.encode(0, 32 + 8 + 8 + 16);
    const v = le(b);
    v.setUint32(4, 0xf, true); // READ | WRITE | MMAP | CAPS
    v.setUint32(12, 32, true);
    v.setBigUint64(16, 0x100000n, true);
    v.setBigUint64(24, 0n, true);
    v.setUint16(32, 1, true);
    v.setUint16(34, 1, true);
    v.setUint32(40, 1, true);
    v.setBigUint64(48, 0x1000n, true);
    v.setBigUint64(56, 0x2000n, true);
    const info = regionInfo.decode(b, 99);
    assert.equal(info.size, 0x100000n);
    assert.deepEqual(info.mmapAreas, [{ offset: 0x1000n, size: 0x2000n }]);
    assert.equal(info.fd, 99);
  });
});
