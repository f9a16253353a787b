import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeStatus, NvmeError, statusName } from "../../../src/drivers/nvme/status.js";
import { VfioError } from "../../../src/errors.js";

describe("NVMe completion status", () => {
  it("names the statuses the spec names", () => {
    assert.equal(statusName(0, 0x01), "Invalid Command Opcode");
    assert.equal(statusName(0, 0x02), "Invalid Field in Command");
    assert.equal(statusName(0, 0x0b), "Invalid Namespace or Format");
    assert.equal(statusName(0, 0x80), "LBA Out of Range");
    assert.equal(statusName(1, 0x01), "Invalid Queue Identifier");
    assert.equal(statusName(1, 0x0c), "Invalid Queue Deletion");
    assert.equal(statusName(2, 0x81), "Unrecovered Read Error");
    assert.equal(statusName(3, 0x71), "Command Aborted By Host");
  });

  it("describes unnamed codes by type and number", () => {
    assert.equal(statusName(0, 0x7e), "Generic status 0x7e");
    assert.equal(statusName(7, 0x12), "Vendor Specific status 0x12");
    assert.equal(statusName(5, 0x00), "Reserved type 5 status 0x00");
  });

  it("decodes SC, SCT, CRD, More and DNR from the 15-bit field (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.boolean(),
        (sc, sct, crd, more, dnr) => {
          const field = sc | (sct << 8) | (crd << 11) | (more ? 1 << 13 : 0) | (dnr ? 1 << 14 : 0);
          assert.deepEqual(decodeStatus(field), { sc, sct, crd, more, dnr });
          assert.ok(statusName(sct, sc).length > 0);
        },
      ),
    );
  });

  it("becomes a typed EIO error carrying the status and the command", () => {
    const e = new NvmeError(decodeStatus(0x4080), 0x02, false, "Read");
    assert.ok(e instanceof VfioError);
    assert.equal(e.code, "EIO");
    assert.equal(e.sct, 0);
    assert.equal(e.sc, 0x80);
    assert.equal(e.dnr, true);
    assert.equal(e.opcode, 0x02);
    assert.equal(e.admin, false);
    assert.ok(e.is(0, 0x80));
    assert.equal(e.message, "Read failed: LBA Out of Range (SCT 0, SC 0x80, do not retry)");
  });
});
