import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as cmds from "../../../src/drivers/nvme/commands.js";
import { decodeSqe, encodeSqe } from "../../../src/drivers/nvme/sqe.js";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe("NVMe submission queue entries", () => {
  it("round-trip every field through the 64-byte encoding, at any slot (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.record({
          opcode: fc.integer({ min: 0, max: 0xff }),
          nsid: u32,
          prp1: u64,
          prp2: u64,
          cdw10: u32,
          cdw11: u32,
          cdw12: u32,
          cdw13: u32,
          cdw14: u32,
          cdw15: u32,
        }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 7 }),
        (cmd, cid, slot) => {
          const ring = new Uint8Array(8 * 64).fill(0xa5);
          encodeSqe(ring, slot * 64, cmd, cid);
          const d = decodeSqe(ring, slot * 64);
          assert.equal(d.opcode, cmd.opcode);
          assert.equal(d.cid, cid);
          assert.equal(d.fuse, 0, "a normal, unfused command");
          assert.equal(d.psdt, 0, "PRPs, not SGLs");
          assert.equal(d.nsid, cmd.nsid);
          assert.equal(d.mptr, 0n);
          assert.equal(d.prp1, cmd.prp1);
          assert.equal(d.prp2, cmd.prp2);
          assert.deepEqual(d.cdw, [
            cmd.cdw10,
            cmd.cdw11,
            cmd.cdw12,
            cmd.cdw13,
            cmd.cdw14,
            cmd.cdw15,
          ]);
          // Neighbouring slots are untouched.
          for (let i = 0; i < ring.length; i++) {
            if (i < slot * 64 || i >= slot * 64 + 64) assert.equal(ring[i], 0xa5);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("lays out CDW0 as opcode | CID << 16, little endian", () => {
    const ring = new Uint8Array(64);
    encodeSqe(ring, 0, { opcode: 0x02, nsid: 1 }, 0x1234);
    assert.deepEqual([...ring.subarray(0, 8)], [0x02, 0x00, 0x34, 0x12, 0x01, 0, 0, 0]);
  });
});

describe("NVMe command builders", () => {
  it("encode Read/Write with a 64-bit SLBA and a 0's based block count", () => {
    const c = cmds.readWrite(true, 3, 0x1_2345_6789n, 8);
    assert.equal(c.opcode, cmds.IO_WRITE);
    assert.equal(c.nsid, 3);
    assert.equal(c.cdw10, 0x2345_6789);
    assert.equal(c.cdw11, 1);
    assert.equal(c.cdw12, 7);
    assert.equal(cmds.readWrite(false, 1, 0n, 65536).cdw12, 0xffff);
  });

  it("encode queue creation: size 0's based, contiguous, interrupt vector or polled", () => {
    const cq = cmds.createIoCq(2, 64, 5);
    assert.equal(cq.cdw10, (63 << 16) | 2);
    assert.equal(cq.cdw11, (5 << 16) | 0b11);
    assert.equal(cmds.createIoCq(2, 64, null).cdw11, 0b01, "IEN clear when polled");
    const sq = cmds.createIoSq(2, 64, 2);
    assert.equal(sq.cdw10, (63 << 16) | 2);
    assert.equal(sq.cdw11, (2 << 16) | 1);
  });

  it("encode Get Log Page NUMD across the lower and upper halves", () => {
    const c = cmds.getLogPage(0x02, 512);
    assert.equal(c.cdw10, (127 << 16) | 0x02);
    assert.equal(c.cdw11, 0);
    const big = cmds.getLogPage(0x01, 4 * 0x12345);
    assert.equal(big.cdw10! >>> 16, 0x2344);
    assert.equal(big.cdw11, 0x1);
  });

  it("encode Number of Queues 0's based and decode the grant 1-based", () => {
    assert.equal(cmds.setNumberOfQueues(4, 4).cdw11, (3 << 16) | 3);
    assert.deepEqual(cmds.decodeNumberOfQueues((63 << 16) | 31), {
      submission: 32,
      completion: 64,
    });
  });

  it("encode Dataset Management ranges: attributes, block count, SLBA", () => {
    const b = cmds.encodeDsmRanges([{ lba: 0x1_0000_0002n, blocks: 16 }]);
    const v = new DataView(b.buffer);
    assert.equal(b.byteLength, 16);
    assert.equal(v.getUint32(0, true), 0);
    assert.equal(v.getUint32(4, true), 16);
    assert.equal(v.getBigUint64(8, true), 0x1_0000_0002n);
    const c = cmds.datasetManagement(1, 1);
    assert.equal(c.cdw10, 0, "NR is 0's based");
    assert.equal(c.cdw11, 1 << 2, "the Deallocate attribute");
  });
});
