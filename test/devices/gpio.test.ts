import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  IDIO16_REG_FILTER_CTL,
  IDIO16_REG_FILTER0_7,
  IDIO16_REG_IN0_7,
  IDIO16_REG_IN8_15,
  IDIO16_REG_IRQ_CTL,
  IDIO16_REG_IRQ_STATUS,
  IDIO16_REG_OUT0_7,
  IDIO16_REG_OUT8_15,
  PciIdio16,
} from "../../src/devices/gpio/index.js";
import { VfioError } from "../../src/errors.js";

interface LineView {
  /** The INTx level of the model's own PciDevice (the real one, no stand-in). */
  readonly level: boolean;
  /** Every change of the line the model drove, in order. */
  readonly levels: boolean[];
}

function setup(inputs = 0): { gpio: PciIdio16; host: { irq: LineView } } {
  const gpio = new PciIdio16({ inputs });
  const irq = gpio.device.irq;
  const levels: boolean[] = [];
  gpio.on("irq", (a) => levels.push(a));
  return {
    gpio,
    host: {
      irq: {
        get level() {
          return irq.intx.asserted;
        },
        levels,
      },
    },
  };
}

const rd = (g: PciIdio16, reg: number) => g.read(reg, 1, g.device)[0] ?? -1;
const wr = (g: PciIdio16, reg: number, v: number) => g.write(reg, Uint8Array.of(v), g.device);

/** What the Linux driver's probe and first unmask do (gpio-idio-16.c). */
function driverProbeAndUnmask(g: PciIdio16): void {
  wr(g, IDIO16_REG_IRQ_CTL, 0); // disable IRQ before registering
  wr(g, IDIO16_REG_FILTER_CTL, 0); // deactivate input filters
  wr(g, IDIO16_REG_IN0_7, 0); // handle_mask_sync on first unmask: clear interrupt...
  rd(g, IDIO16_REG_IRQ_CTL); // ...then enable IRQ
}

/** The regmap-irq handler: returns the status if the card claims the interrupt, else null. */
function driverIrqHandler(g: PciIdio16): number | null {
  const status = rd(g, IDIO16_REG_IRQ_STATUS);
  if (!(status & 0x4)) return null; // IRQ_NONE
  wr(g, IDIO16_REG_IN0_7, status); // ack_base write clears the interrupt
  return status;
}

describe("gpio: definition", () => {
  it("declares 494f:0dc8 with an 8-byte I/O BAR 2 only, INTA#, no MSI", () => {
    const d = new PciIdio16().definition;
    assert.equal(d.vendorId, 0x494f);
    assert.equal(d.deviceId, 0x0dc8);
    assert.equal(d.interruptPin, 1);
    assert.equal(d.bars?.[0], undefined);
    assert.equal(d.bars?.[1], undefined);
    assert.equal(d.bars?.[2]?.kind, "io");
    assert.equal(d.bars?.[2]?.size, 8);
    assert.equal(d.capabilities, undefined);
  });

  it("can declare BAR 2 as a 4 KiB mem32 BAR instead; bytes past the registers read 0", () => {
    const g = new PciIdio16({ bar: "mem32" });
    assert.equal(g.definition.bars?.[2]?.kind, "mem32");
    assert.equal(g.definition.bars?.[2]?.size, 4096);
    g.write(0x100, Uint8Array.of(0xff), g.device);
    assert.deepEqual(g.read(0x100, 4, g.device), new Uint8Array(4));
    assert.equal(g.outputs, 0);
  });
});

describe("gpio: outputs", () => {
  it("the output latch reads back and shows up on the host side with an event", () => {
    const { gpio } = setup();
    const events: [number, number][] = [];
    gpio.on("outputs", (now, before) => events.push([now, before]));
    wr(gpio, IDIO16_REG_OUT0_7, 0xa5);
    wr(gpio, IDIO16_REG_OUT8_15, 0x3c);
    assert.equal(gpio.outputs, 0x3ca5);
    assert.equal(rd(gpio, IDIO16_REG_OUT0_7), 0xa5);
    assert.equal(rd(gpio, IDIO16_REG_OUT8_15), 0x3c);
    assert.equal(gpio.output(0), true);
    assert.equal(gpio.output(1), false);
    assert.equal(gpio.output(13), true);
    wr(gpio, IDIO16_REG_OUT0_7, 0xa5);
    assert.deepEqual(events, [
      [0x00a5, 0x0000],
      [0x3ca5, 0x00a5],
    ]);
  });

  it("any 16-bit pattern written as two bytes reads back unchanged", () => {
    const { gpio } = setup();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (v) => {
        wr(gpio, IDIO16_REG_OUT0_7, v & 0xff);
        wr(gpio, IDIO16_REG_OUT8_15, v >> 8);
        assert.equal(gpio.outputs, v);
        assert.equal(rd(gpio, IDIO16_REG_OUT0_7) | (rd(gpio, IDIO16_REG_OUT8_15) << 8), v);
      }),
    );
  });

  it("wider accesses act byte by byte in address order", () => {
    const { gpio } = setup(0x8001);
    gpio.write(IDIO16_REG_OUT0_7, Uint8Array.of(0x12, 0x00), gpio.device); // +1 write clears the IRQ, harmless
    assert.equal(gpio.outputs, 0x12);
    assert.deepEqual(gpio.read(IDIO16_REG_OUT0_7, 2, gpio.device), Uint8Array.of(0x12, 0x01));
    assert.deepEqual(gpio.read(IDIO16_REG_OUT8_15, 2, gpio.device), Uint8Array.of(0x00, 0x80));
    assert.equal(gpio.irqEnabled, false);
    gpio.read(0, 4, gpio.device); // covers +2: enables the interrupt like a byte read would
    assert.equal(gpio.irqEnabled, true);
  });
});

describe("gpio: inputs", () => {
  it("are set from the host and read by the guest at +1 and +5; writes there do not change them", () => {
    const { gpio } = setup();
    gpio.setInputs(0x1234);
    assert.equal(rd(gpio, IDIO16_REG_IN0_7), 0x34);
    assert.equal(rd(gpio, IDIO16_REG_IN8_15), 0x12);
    gpio.setInput(15, true);
    gpio.setInput(2, false);
    assert.equal(gpio.inputs, 0x9230);
    wr(gpio, IDIO16_REG_IN8_15, 0);
    wr(gpio, IDIO16_REG_IN0_7, 0);
    assert.equal(rd(gpio, IDIO16_REG_IN8_15), 0x92);
    assert.equal(rd(gpio, IDIO16_REG_IN0_7), 0x30);
  });

  it("the power-up level comes from the options", () => {
    assert.equal(new PciIdio16({ inputs: 0xbeef }).inputs, 0xbeef);
  });

  it("rejects bad lines and masks with EINVAL", () => {
    const { gpio } = setup();
    const einval = (e: unknown) => e instanceof VfioError && e.code === "EINVAL";
    assert.throws(() => gpio.setInput(16, true), einval);
    assert.throws(() => gpio.setInput(-1, true), einval);
    assert.throws(() => gpio.setInputs(0x10000), einval);
    assert.throws(() => gpio.setInputs(1.5), einval);
    assert.throws(() => gpio.output(99), einval);
    assert.throws(() => new PciIdio16({ inputs: -1 }), einval);
  });
});

describe("gpio: change-of-state interrupt", () => {
  it("is disabled at power-up: changes latch nothing", () => {
    const { gpio, host } = setup();
    gpio.setInputs(0xffff);
    assert.equal(rd(gpio, IDIO16_REG_IRQ_STATUS), 0);
    assert.equal(host.irq.level, false);
  });

  it("reading +2 enables it; a change then latches status bit 2 plus the changed byte's bit, asserting INTx", () => {
    const { gpio, host } = setup();
    rd(gpio, IDIO16_REG_IRQ_CTL);
    assert.equal(gpio.irqEnabled, true);
    gpio.setInput(3, true);
    assert.equal(rd(gpio, IDIO16_REG_IRQ_STATUS), 0x05);
    assert.equal(host.irq.level, true);
    gpio.setInput(12, true);
    assert.equal(rd(gpio, IDIO16_REG_IRQ_STATUS), 0x07);
    gpio.setInput(12, true); // no change, no new event
    assert.deepEqual(host.irq.levels, [true]);
  });

  it("writing +1 clears the latch and drops the line", () => {
    const { gpio, host } = setup();
    rd(gpio, IDIO16_REG_IRQ_CTL);
    gpio.setInputs(0x0100);
    assert.equal(rd(gpio, IDIO16_REG_IRQ_STATUS), 0x06);
    wr(gpio, IDIO16_REG_IN0_7, 0);
    assert.equal(rd(gpio, IDIO16_REG_IRQ_STATUS), 0);
    assert.equal(host.irq.level, false);
    assert.equal(gpio.irqEnabled, true, "clearing does not disable");
    gpio.setInputs(0);
    assert.equal(host.irq.level, true, "the next change interrupts again");
  });

  it("writing +2 disables: the line drops, the latch stays, re-enabling raises it again", () => {
    const { gpio, host } = setup();
    rd(gpio, IDIO16_REG_IRQ_CTL);
    gpio.setInput(0, true);
    wr(gpio, IDIO16_REG_IRQ_CTL, 0);
    assert.equal(host.irq.level, false);
    assert.equal(rd(gpio, IDIO16_REG_IRQ_STATUS), 0x05);
    gpio.setInput(1, true);
    assert.equal(host.irq.level, false, "no events while disabled");
    rd(gpio, IDIO16_REG_IRQ_CTL);
    assert.equal(host.irq.level, true);
    assert.deepEqual(host.irq.levels, [true, false, true]);
  });

  it("works with the Linux driver's sequence: probe, unmask, handler claims and acks, IRQ_NONE when idle", () => {
    const { gpio, host } = setup(0x00f0);
    driverProbeAndUnmask(gpio);
    assert.equal(gpio.irqEnabled, true);
    assert.equal(gpio.filters, 0);
    assert.equal(driverIrqHandler(gpio), null, "shared line, nothing from this card");

    const irqEvents: boolean[] = [];
    gpio.on("irq", (a) => irqEvents.push(a));
    gpio.setInput(9, true);
    assert.equal(host.irq.level, true);
    const status = driverIrqHandler(gpio);
    assert.ok(status !== null && status & 0x3, "the older driver's check (bits 0-1) passes too");
    assert.equal(status, 0x06);
    assert.equal(host.irq.level, false, "acked");
    assert.equal(rd(gpio, IDIO16_REG_IN8_15), 0x02, "the consumer reads the new level");
    assert.equal(driverIrqHandler(gpio), null);
    assert.deepEqual(irqEvents, [true, false]);
  });
});

describe("gpio: filters and reset", () => {
  it("read +3 activates all filters, write +3 deactivates them; +7 controls inputs 0-7 individually", () => {
    const { gpio } = setup();
    rd(gpio, IDIO16_REG_FILTER_CTL);
    assert.equal(gpio.filters, 0xffff);
    assert.equal(rd(gpio, IDIO16_REG_FILTER0_7), 0xff);
    wr(gpio, IDIO16_REG_FILTER_CTL, 0x12);
    assert.equal(gpio.filters, 0);
    wr(gpio, IDIO16_REG_FILTER0_7, 0x0f);
    assert.equal(gpio.filters, 0x0f);
    assert.equal(rd(gpio, IDIO16_REG_FILTER0_7), 0x0f);
  });

  it("reset turns outputs off (with an event), disables and clears the interrupt, keeps the inputs", () => {
    const { gpio, host } = setup(0x00ff);
    wr(gpio, IDIO16_REG_OUT8_15, 0x80);
    rd(gpio, IDIO16_REG_IRQ_CTL);
    rd(gpio, IDIO16_REG_FILTER_CTL);
    gpio.setInputs(0x01ff);
    assert.equal(host.irq.level, true);
    const events: number[] = [];
    gpio.on("outputs", (v) => events.push(v));
    void gpio.definition.reset?.(gpio.device);
    assert.equal(gpio.outputs, 0);
    assert.deepEqual(events, [0]);
    assert.equal(gpio.irqEnabled, false);
    assert.equal(rd(gpio, IDIO16_REG_IRQ_STATUS), 0);
    assert.equal(host.irq.level, false);
    assert.equal(gpio.filters, 0);
    assert.equal(gpio.inputs, 0x01ff);
  });
});
