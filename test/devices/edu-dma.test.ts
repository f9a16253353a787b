import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  EDU_DMA_BUF_ADDR,
  EDU_REG_DMA_CMD,
  EDU_REG_DMA_COUNT,
  EDU_REG_DMA_DST,
  EDU_REG_DMA_SRC,
  EDU_REG_IRQ_STATUS,
  EduDevice,
} from "../../src/devices/edu/index.js";
import { createDevice } from "../../src/server/index.js";
import { RAM, r32, r64, setup, w32, w64 } from "./edu-helpers.js";
import { fakeHost } from "./fake-host.js";

describe("edu: DMA", () => {
  function program(edu: EduDevice, src: bigint, dst: bigint, count: number, cmd: number): void {
    w64(edu, EDU_REG_DMA_SRC, src);
    w64(edu, EDU_REG_DMA_DST, dst);
    w64(edu, EDU_REG_DMA_COUNT, BigInt(count));
    w64(edu, EDU_REG_DMA_CMD, BigInt(cmd));
  }

  it("RAM -> device: busy bit observable, then the buffer holds the data", async () => {
    const { edu, host } = setup();
    for (let i = 0; i < 100; i++) host.dma.memory[0x100 + i] = (i * 7 + 3) & 0xff;
    program(edu, RAM + 0x100n, BigInt(EDU_DMA_BUF_ADDR), 100, 0x1);
    assert.equal(r32(edu, EDU_REG_DMA_CMD) & 1, 1, "running");
    await edu.idle();
    assert.equal(r32(edu, EDU_REG_DMA_CMD) & 1, 0, "done");
    assert.deepEqual(edu.buffer.subarray(0, 100), host.dma.memory.subarray(0x100, 0x164));
    assert.deepEqual(host.dma.log, [{ op: "read", iova: RAM + 0x100n, length: 100 }]);
    assert.equal(edu.dmaErrors, 0);
  });

  it("device -> RAM with interrupt 0x100 when done", async () => {
    const { edu, host } = setup();
    for (let i = 0; i < 64; i++) edu.buffer[0x800 + i] = 0xa0 ^ i;
    program(edu, BigInt(EDU_DMA_BUF_ADDR + 0x800), RAM + 0x2000n, 64, 0x1 | 0x2 | 0x4);
    assert.equal(host.irq.level, false);
    await edu.idle();
    assert.deepEqual(host.dma.memory.subarray(0x2000, 0x2040), edu.buffer.subarray(0x800, 0x840));
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0x100);
    assert.equal(host.irq.level, true);
    assert.equal(r32(edu, EDU_REG_DMA_CMD), 0x6, "start bit cleared, the rest kept");
  });

  it("round trip: RAM -> buffer -> RAM at another address (QEMU's documented example)", async () => {
    const { edu, host } = setup();
    const data = Uint8Array.from({ length: 100 }, (_, i) => 255 - i);
    host.dma.memory.set(data, 0);
    program(edu, RAM, BigInt(EDU_DMA_BUF_ADDR), 100, 1);
    await edu.idle();
    program(edu, BigInt(EDU_DMA_BUF_ADDR), RAM + 100n, 100, 3);
    await edu.idle();
    assert.deepEqual(host.dma.memory.subarray(100, 200), data);
  });

  it("registers are 64-bit with 8-byte access; a 4-byte write zero-extends, a 4-byte read gives the low half", () => {
    const { edu } = setup();
    w64(edu, EDU_REG_DMA_SRC, 0x123456789abcdef0n);
    assert.equal(r64(edu, EDU_REG_DMA_SRC), 0x123456789abcdef0n);
    assert.equal(r32(edu, EDU_REG_DMA_SRC), 0x9abcdef0);
    w32(edu, EDU_REG_DMA_SRC, 0x1000);
    assert.equal(r64(edu, EDU_REG_DMA_SRC), 0x1000n);
    w32(edu, EDU_REG_DMA_COUNT, 42);
    assert.equal(r64(edu, EDU_REG_DMA_COUNT), 42n);
  });

  it("parameters and command are frozen while a transfer runs; a command without START is ignored", async () => {
    const { edu, host } = setup();
    w64(edu, EDU_REG_DMA_CMD, 0x4n);
    assert.equal(r64(edu, EDU_REG_DMA_CMD), 0n);
    host.dma.memory.fill(0x5a, 0, 16);
    program(edu, RAM, BigInt(EDU_DMA_BUF_ADDR), 16, 1);
    w64(edu, EDU_REG_DMA_SRC, RAM + 0x1000n);
    w64(edu, EDU_REG_DMA_COUNT, 4n);
    w64(edu, EDU_REG_DMA_CMD, 0x7n);
    assert.equal(r64(edu, EDU_REG_DMA_SRC), RAM);
    assert.equal(r64(edu, EDU_REG_DMA_COUNT), 16n);
    assert.equal(r64(edu, EDU_REG_DMA_CMD), 1n);
    await edu.idle();
    assert.equal(host.dma.log.length, 1);
    assert.deepEqual(edu.buffer.subarray(0, 16), new Uint8Array(16).fill(0x5a));
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0, "the ignored command's IRQ bit did not apply");
  });

  for (const [what, src, dst, count, cmd] of [
    ["destination past the buffer end", RAM, BigInt(EDU_DMA_BUF_ADDR + 0xf00), 0x200, 0x1 | 0x4],
    ["destination below the buffer", RAM, BigInt(EDU_DMA_BUF_ADDR - 1), 4, 0x1 | 0x4],
    ["source outside the buffer (to RAM)", 0x1000n, RAM, 16, 0x3 | 0x4],
    ["a huge count", RAM, BigInt(EDU_DMA_BUF_ADDR), 2 ** 40, 0x1 | 0x4],
  ] as const) {
    it(`invalid device range (${what}): no data moves, error counted, command completes`, async () => {
      const { edu, host } = setup();
      host.dma.memory.fill(0xee);
      edu.buffer.fill(0x11);
      program(edu, src, dst, count, cmd);
      await edu.idle();
      assert.equal(edu.dmaErrors, 1);
      assert.match(edu.lastDmaError ?? "", /outside the buffer/);
      assert.deepEqual(host.dma.log, [], "RAM untouched");
      assert.ok(
        edu.buffer.every((b) => b === 0x11),
        "buffer untouched",
      );
      assert.equal(r32(edu, EDU_REG_DMA_CMD) & 1, 0);
      assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0x100, "completion interrupt still raised");
    });
  }

  it("the last byte of the buffer is in range, one more is not", async () => {
    const { edu, host } = setup();
    host.dma.memory[0] = 0x77;
    program(edu, RAM, BigInt(EDU_DMA_BUF_ADDR + 0xfff), 1, 1);
    await edu.idle();
    assert.equal(edu.buffer[0xfff], 0x77);
    program(edu, RAM, BigInt(EDU_DMA_BUF_ADDR + 0xfff), 2, 1);
    await edu.idle();
    assert.equal(edu.dmaErrors, 1);
  });

  it("no DMA while bus mastering is disabled: the framework refuses it, the model counts it", async () => {
    // A real device: the check is the framework's, edu no longer makes it by hand.
    const edu = new EduDevice();
    const device = createDevice(edu.definition);
    try {
      assert.equal(device.config.busMaster, false, "reset value: PCI_COMMAND_MASTER clear");
      setup(device, edu);
      program(edu, RAM, BigInt(EDU_DMA_BUF_ADDR), 8, 1);
      await edu.idle();
      assert.equal(edu.dmaErrors, 1);
      assert.match(edu.lastDmaError ?? "", /bus mastering is disabled/);
      assert.equal(device.dma.faults, 1);
      assert.equal(edu.buffer[0], 0);
    } finally {
      device.close();
    }
  });

  it("an IOMMU fault moves no data and is counted", async () => {
    const { edu, host } = setup();
    program(edu, RAM + 0x10000n, BigInt(EDU_DMA_BUF_ADDR), 8, 1 | 4);
    await edu.idle();
    assert.equal(host.dma.faults, 1);
    assert.equal(edu.dmaErrors, 1);
    assert.match(edu.lastDmaError ?? "", /IOMMU fault/);
    assert.equal(r32(edu, EDU_REG_IRQ_STATUS), 0x100);
  });

  it("RAM addresses are clamped to the 28-bit DMA mask, as QEMU does", async () => {
    const { edu, host } = setup();
    host.dma.memory[0x10] = 0x99;
    program(edu, (1n << 32n) | (RAM + 0x10n), BigInt(EDU_DMA_BUF_ADDR), 1, 1);
    await edu.idle();
    assert.deepEqual(host.dma.log, [{ op: "read", iova: RAM + 0x10n, length: 1 }]);
    assert.equal(edu.buffer[0], 0x99);
  });

  it("a wider dmaMask option lets the device reach high addresses", async () => {
    const { edu, host } = setup(
      fakeHost(1n << 40n, 0x1000),
      new EduDevice({ dmaMask: (1n << 64n) - 1n }),
    );
    host.dma.memory[0] = 0x42;
    program(edu, 1n << 40n, BigInt(EDU_DMA_BUF_ADDR), 1, 1);
    await edu.idle();
    assert.equal(edu.buffer[0], 0x42);
  });
});
