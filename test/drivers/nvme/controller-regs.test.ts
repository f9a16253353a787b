/**
 * Bring-up register waits against a scripted register file: what the driver does
 * when a controller fails (CSTS.CFS), never becomes ready, or is gone (all ones).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ControllerRegs, type RegisterIo } from "../../../src/drivers/nvme/controller-regs.js";
import {
  decodeCap,
  REG_ACQ,
  REG_AQA,
  REG_ASQ,
  REG_CC,
  REG_CSTS,
} from "../../../src/drivers/nvme/regs.js";
import { VfioError } from "../../../src/errors.js";

/** Registers as a map; `onCc` decides how CSTS reacts to a CC write. */
function fakeController(onCc: (cc: number, regs: Map<number, number>) => void) {
  const regs = new Map<number, number>();
  const writes: [number, number][] = [];
  const io: RegisterIo = {
    name: "fake nvme",
    read32: async (_bar: number, off: bigint | number) => regs.get(Number(off)) ?? 0,
    write32: async (_bar: number, off: bigint | number, v: number) => {
      writes.push([Number(off), v]);
      regs.set(Number(off), v);
      if (Number(off) === REG_CC) onCc(v, regs);
    },
  };
  return { io, regs, writes };
}

/** CAP with TO = 1 (500 ms), the shortest a controller can promise. */
const CAP = decodeCap(0x7ffn | (1n << 24n) | (1n << 37n));

const code = (c: string) => (e: unknown) => e instanceof VfioError && e.code === c;

describe("NVMe bring-up register protocol", () => {
  it("enables a well-behaved controller: RDY follows EN", async () => {
    const f = fakeController((cc, r) => r.set(REG_CSTS, cc & 1));
    const regs = new ControllerRegs(f.io);
    await regs.setAdminQueues(0x001f001f, 0x1_0000_2000n, 0x3000n);
    await regs.enable(CAP, 0x00460001);
    assert.equal(await regs.csts(), 1);
    await regs.disable(CAP);
    assert.equal(await regs.csts(), 0);
    // 64-bit queue bases go out as two 32-bit halves, low first.
    assert.deepEqual(f.writes.slice(0, 5), [
      [REG_AQA, 0x001f001f],
      [REG_ASQ, 0x2000],
      [REG_ASQ + 4, 1],
      [REG_ACQ, 0x3000],
      [REG_ACQ + 4, 0],
    ]);
  });

  it("fails enable at once when the controller reports a fatal status", async () => {
    const f = fakeController((cc, r) => r.set(REG_CSTS, cc & 1 ? 0b10 : 0));
    await assert.rejects(
      new ControllerRegs(f.io).enable(CAP, 0x00460001),
      (e: unknown) => code("EIO")(e) && /CSTS\.CFS/.test((e as Error).message),
    );
  });

  it("disables a fatal controller: CFS does not stop the wait for RDY to clear", async () => {
    const f = fakeController((cc, r) => r.set(REG_CSTS, cc & 1 ? 0b11 : 0b10));
    f.regs.set(REG_CC, 1);
    f.regs.set(REG_CSTS, 0b11);
    await new ControllerRegs(f.io).disable(CAP);
    assert.equal(f.regs.get(REG_CC), 0);
  });

  it("gives up after CAP.TO when RDY never comes, saying what it waited for", async () => {
    const f = fakeController(() => {});
    await assert.rejects(
      new ControllerRegs(f.io).enable(CAP, 0x00460001),
      (e: unknown) =>
        code("ETIMEDOUT")(e) &&
        /CSTS\.RDY after CC\.EN=1 within CAP\.TO \(500 ms\)/.test((e as Error).message),
    );
  });

  it("says the controller is gone when its registers read all ones", async () => {
    const f = fakeController(() => {});
    f.regs.set(0, 0xffffffff);
    f.regs.set(4, 0xffffffff);
    f.regs.set(REG_CSTS, 0xffffffff);
    const regs = new ControllerRegs(f.io);
    await assert.rejects(regs.cap(), code("ENODEV"));
    await assert.rejects(regs.enable(CAP, 1), code("ENODEV"));
  });

  it("shuts down with CC.SHN and waits for CSTS.SHST complete", async () => {
    const f = fakeController((cc, r) => r.set(REG_CSTS, (cc & 1) | ((cc >>> 14) & 3 ? 0b1000 : 0)));
    f.regs.set(REG_CC, 0x00460001);
    await new ControllerRegs(f.io).shutdown(CAP);
    assert.equal(f.regs.get(REG_CC), 0x00464001);
  });
});
