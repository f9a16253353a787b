import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  EDU_DMA_BUF_ADDR,
  EDU_ID_VALUE,
  EDU_REG_DMA_CMD,
  EDU_REG_DMA_COUNT,
  EDU_REG_DMA_DST,
  EDU_REG_DMA_SRC,
  EDU_REG_FACTORIAL,
  EDU_REG_ID,
  EDU_REG_IRQ_ACK,
  EDU_REG_IRQ_RAISE,
  EDU_REG_IRQ_STATUS,
  EDU_REG_LIVENESS,
  EDU_REG_STATUS,
  EduDevice,
  factorial32,
} from "../../src/devices/edu/index.js";
import { hostOf, RAM, r32, r64, refFactorial, setup, value, w32, w64 } from "./edu-helpers.js";
import { le } from "./fake-host.js";

describe("edu: definition", () => {
  it("declares QEMU's identity, a 1 MiB non-prefetchable mem32 BAR0, MSI with 1 vector and INTA#", () => {
    const d = new EduDevice().definition;
    assert.equal(d.vendorId, 0x1234);
    assert.equal(d.deviceId, 0x11e8);
    assert.equal(d.classCode, 0x00ff00);
    assert.equal(d.revision, 0x10);
    assert.equal(d.interruptPin, 1);
    const bar0 = d.bars?.[0];
    assert.ok(bar0);
    assert.equal(bar0.kind, "mem32");
    assert.equal(bar0.size, 1 << 20);
    assert.equal("prefetchable" in bar0 && bar0.prefetchable, false);
    assert.equal(d.bars?.length, 1);
    assert.deepEqual(d.capabilities, [
      { kind: "msi", vectors: 1, addr64: true, perVectorMask: false },
    ]);
    assert.equal(typeof d.reset, "function");
  });
});

describe("edu: identification, liveness and access sizes", () => {
  it("identification reads 0x010000ed and ignores writes", () => {
    const { edu } = setup();
    assert.equal(r32(edu, EDU_REG_ID), EDU_ID_VALUE);
    w32(edu, EDU_REG_ID, 0);
    assert.equal(r32(edu, EDU_REG_ID), 0x010000ed);
  });

  it("liveness reads back the bitwise inverse of any 32-bit write", () => {
    const { edu } = setup();
    assert.equal(r32(edu, EDU_REG_LIVENESS), 0, "nothing written yet");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        w32(edu, EDU_REG_LIVENESS, v);
        assert.equal(r32(edu, EDU_REG_LIVENESS), ~v >>> 0);
      }),
    );
  });

  it("below 0x80 only 4-byte accesses work: 8-byte, 1-, 2-byte and unaligned ones read all-ones and drop writes", () => {
    const { edu } = setup();
    assert.equal(r64(edu, EDU_REG_ID), 0xffffffffffffffffn);
    assert.deepEqual(edu.read(EDU_REG_ID, 1), new Uint8Array([0xff]));
    assert.deepEqual(edu.read(EDU_REG_ID, 2), new Uint8Array([0xff, 0xff]));
    assert.equal(value(edu.read(0x02, 4)), 0xffffffffn);
    w32(edu, EDU_REG_LIVENESS, 5);
    w64(edu, EDU_REG_LIVENESS - 4, 0n); // 8 bytes at 0x00 covering 0x04: refused
    edu.write(EDU_REG_LIVENESS, le(0, 2), hostOf(edu));
    edu.write(EDU_REG_LIVENESS + 1, le(0, 4), hostOf(edu));
    assert.equal(r32(edu, EDU_REG_LIVENESS), ~5 >>> 0);
  });

  it("write-only and unimplemented registers read all-ones", () => {
    const { edu } = setup();
    for (const off of [EDU_REG_IRQ_RAISE, EDU_REG_IRQ_ACK, 0x0c, 0x28, 0x7c]) {
      assert.equal(r32(edu, off), 0xffffffff, `0x${off.toString(16)}`);
    }
    assert.equal(r64(edu, 0xa0), 0xffffffffffffffffn);
    assert.equal(
      r32(edu, EDU_REG_DMA_SRC + 4),
      0xffffffff,
      "upper half of a 64-bit register is not a register",
    );
    assert.equal(r32(edu, 0xffffc), 0xffffffff);
  });
});

describe("edu: factorial", () => {
  it("factorial32 matches n! mod 2^32 (0! = 1, 12!, wrap from 13!, 0 from 34!)", () => {
    assert.equal(factorial32(0), 1);
    assert.equal(factorial32(1), 1);
    assert.equal(factorial32(5), 120);
    assert.equal(factorial32(12), 479001600);
    assert.equal(factorial32(13), 6227020800 % 2 ** 32);
    assert.equal(factorial32(33), refFactorial(33));
    assert.notEqual(factorial32(33), 0);
    assert.equal(factorial32(34), 0);
    assert.equal(factorial32(0xffffffff), 0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), (n) => factorial32(n) === refFactorial(n)),
    );
    assert.throws(() => factorial32(-1), RangeError);
  });

  it("sets the busy bit at once, serves the operand meanwhile, then the result with the bit clear", async () => {
    const { edu } = setup();
    w32(edu, EDU_REG_FACTORIAL, 12);
    assert.equal(r32(edu, EDU_REG_STATUS) & 0x01, 0x01);
    assert.equal(r32(edu, EDU_REG_FACTORIAL), 12);
    assert.equal(edu.busy, true);
    await edu.idle();
    assert.equal(r32(edu, EDU_REG_STATUS), 0);
    assert.equal(r32(edu, EDU_REG_FACTORIAL), 479001600);
  });

  for (const [n, expected] of [
    [0, 1],
    [1, 1],
    [10, 3628800],
    [13, 1932053504],
    [20, refFactorial(20)],
    [34, 0],
    [0xffffffff, 0],
  ] as const) {
    it(`computes ${n}! = ${expected} through the register`, async () => {
      const { edu } = setup();
      w32(edu, EDU_REG_FACTORIAL, n);
      await edu.idle();
      assert.equal(r32(edu, EDU_REG_FACTORIAL), expected);
    });
  }

  it("ignores a new operand while computing", async () => {
    const { edu } = setup();
    w32(edu, EDU_REG_FACTORIAL, 5);
    w32(edu, EDU_REG_FACTORIAL, 6);
    await edu.idle();
    assert.equal(r32(edu, EDU_REG_FACTORIAL), 120);
  });

  it("status: only bit 0x80 is writable; the busy bit cannot be set by software", () => {
    const { edu } = setup();
    w32(edu, EDU_REG_STATUS, 0xffffffff);
    assert.equal(r32(edu, EDU_REG_STATUS), 0x80);
    w32(edu, EDU_REG_STATUS, 0x01);
    assert.equal(r32(edu, EDU_REG_STATUS), 0);
  });

  it("raises interrupt 0x01 on completion only with status bit 0x80 (INTx level)", async () => {
    const { edu, host } = setup();
    w32(edu, EDU_REG_FACTORIAL, 3);
    await edu.idle();
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0);
    assert.equal(host.irq.level, false);

    w32(edu, EDU_REG_STATUS, 0x80);
    w32(edu, EDU_REG_FACTORIAL, 4);
    assert.equal(host.irq.level, false, "not before the computation ends");
    await edu.idle();
    assert.equal(r32(edu, EDU_REG_FACTORIAL), 24);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0x01);
    assert.equal(host.irq.level, true);
    assert.equal(r32(edu, EDU_REG_STATUS), 0x80, "the enable bit stays");
  });
});

describe("edu: interrupt raise / acknowledge / status", () => {
  it("raise ORs into the status and asserts INTx; ack clears bits and deasserts only at zero", () => {
    const { edu, host } = setup();
    w32(edu, EDU_REG_IRQ_RAISE, 0x10);
    w32(edu, EDU_REG_IRQ_RAISE, 0x03);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0x13);
    assert.equal(host.irq.level, true);
    w32(edu, EDU_REG_IRQ_ACK, 0x01);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0x12);
    assert.equal(host.irq.level, true, "still asserted while bits remain");
    w32(edu, EDU_REG_IRQ_ACK, 0xffffffff);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0);
    assert.equal(host.irq.level, false);
    assert.deepEqual(host.irq.levels, [true, false]);
    assert.deepEqual(host.irq.triggers, [], "no MSI in INTx mode");
  });

  it("raising 0 with an empty status does nothing", () => {
    const { edu, host } = setup();
    w32(edu, EDU_REG_IRQ_RAISE, 0);
    assert.equal(host.irq.level, false);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0);
  });

  it("with MSI enabled each raise signals vector 0 and INTx stays low", () => {
    const { edu, host } = setup();
    host.irq.mode = "msi";
    w32(edu, EDU_REG_IRQ_RAISE, 0x1);
    w32(edu, EDU_REG_IRQ_RAISE, 0x2);
    assert.deepEqual(host.irq.triggers, [0, 0]);
    assert.equal(host.irq.level, false);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0x3, "the driver must still acknowledge");
    w32(edu, EDU_REG_IRQ_ACK, 0x3);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0);
  });

  it("the status register itself is read-only", () => {
    const { edu } = setup();
    w32(edu, EDU_REG_IRQ_STATUS, 0xff);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0);
  });
});

describe("edu: reset", () => {
  it("clears registers, buffer and interrupt; drops work in flight", async () => {
    const { edu, host } = setup();
    w32(edu, EDU_REG_LIVENESS, 1);
    w32(edu, EDU_REG_STATUS, 0x80);
    w32(edu, EDU_REG_IRQ_RAISE, 0x8);
    edu.buffer.fill(0xab);
    w32(edu, EDU_REG_FACTORIAL, 5);
    host.dma.memory.fill(0xcd);
    w64(edu, EDU_REG_DMA_SRC, RAM);
    w64(edu, EDU_REG_DMA_DST, BigInt(EDU_DMA_BUF_ADDR));
    w64(edu, EDU_REG_DMA_COUNT, 16n);
    w64(edu, EDU_REG_DMA_CMD, 5n);
    assert.equal(host.irq.level, true);

    edu.reset(host);
    assert.equal(host.irq.level, false);
    await edu.idle();
    assert.equal(r32(edu, EDU_REG_LIVENESS), 0);
    assert.equal(r32(edu, EDU_REG_FACTORIAL), 0, "the factorial started before reset did not land");
    assert.equal(r32(edu, EDU_REG_STATUS), 0);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0, "no completion interrupts after reset");
    for (const reg of [EDU_REG_DMA_SRC, EDU_REG_DMA_DST, EDU_REG_DMA_COUNT, EDU_REG_DMA_CMD]) {
      assert.equal(r64(edu, reg), 0n);
    }
    assert.ok(edu.buffer.every((b) => b === 0));
    assert.equal(host.irq.level, false);
  });

  it("the definition's reset callback resets the model", () => {
    const { edu } = setup();
    w32(edu, EDU_REG_LIVENESS, 7);
    void edu.definition.reset?.(hostOf(edu));
    assert.equal(r32(edu, EDU_REG_LIVENESS), 0);
  });
});
