/**
 * A model of the ACCES PCI-IDIO-16 isolated digital I/O card as the Linux driver
 * (gpio-pci-idio-16 over the gpio-idio-16 library) drives it:
 *
 * - BAR 2 holds eight byte registers (see regs.ts). The driver uses byte accesses;
 *   wider ones are served byte by byte, in address order, side effects included.
 * - Reading +2 enables the change-of-state interrupt, writing +2 disables it. While
 *   enabled, any change of an input latches the interrupt: status bit 2 plus bit 0
 *   and/or bit 1 for the input byte(s) that changed. Writing +1 clears the latch.
 * - INTx (INTA#, no MSI) is a level, asserted while the latch is set and the
 *   interrupt enabled, so a shared line works as the driver expects: its handler
 *   reads +6, claims the interrupt only when bit 2 is set, and acks by writing +1.
 *
 * The host side (the world wired to the connector) sets the inputs with
 * `setInputs`/`setInput` and watches the outputs through `outputs` and the
 * "outputs" event. The register handlers act through the context they receive; an
 * input change comes from outside any callback, so the model builds its PciDevice
 * itself (`device`) and raises the line through it.
 *
 * Differences from the card: the input filters are register state only (no input
 * timing is modelled); the PLX bridge registers of BARs 0-1 are absent (the driver
 * never touches them); reads of +2/+3, whose value the manual leaves undefined,
 * return 0; changes while the interrupt is disabled are not latched; a device reset
 * turns every output off and disables the interrupt, while the inputs, which the
 * host drives, keep their levels.
 */
import { EventEmitter } from "node:events";
import { VfioError } from "../../errors.js";
import {
  type BarDefinition,
  createDevice,
  type DeviceContext,
  type DeviceDefinition,
  type PciDevice,
} from "../../server/index.js";
import {
  IDIO16_BAR,
  IDIO16_CLASS_CODE,
  IDIO16_DEVICE_ID,
  IDIO16_IRQ_STATUS_COS0_7,
  IDIO16_IRQ_STATUS_COS8_15,
  IDIO16_IRQ_STATUS_PENDING,
  IDIO16_REG_COUNT,
  IDIO16_REG_FILTER_CTL,
  IDIO16_REG_FILTER0_7,
  IDIO16_REG_IN0_7,
  IDIO16_REG_IN8_15,
  IDIO16_REG_IRQ_CTL,
  IDIO16_REG_IRQ_STATUS,
  IDIO16_REG_OUT0_7,
  IDIO16_REG_OUT8_15,
  IDIO16_VENDOR_ID,
} from "./regs.js";

/** Options of the PCI-IDIO-16 model: how BAR 2 is declared and the initial inputs. */
export interface Idio16Options {
  /** For logs; default "pci-idio-16". */
  readonly name?: string;
  /**
   * How BAR 2 is declared: "io" (default), an 8-byte I/O BAR as on the card, or
   * "mem32", a 4 KiB memory BAR for clients without I/O space (registers at 0-7,
   * the rest reads 0). The driver's ioread8/iowrite8 work with either.
   */
  readonly bar?: "io" | "mem32";
  /** Input levels at power-up (bit n = input n energized). Default 0. */
  readonly inputs?: number;
}

/** Events of the PCI-IDIO-16 model, for a host that watches the outputs and the IRQ line. */
export interface Idio16Events {
  /** The guest changed the output latch: new and previous 16-bit values. */
  outputs: [outputs: number, previous: number];
  /** The INTx line changed level. */
  irq: [asserted: boolean];
}

const MEM_BAR_SIZE = 4096;

/** The PCI-IDIO-16 model: device definition plus the host-side view of its lines. */
export class PciIdio16 extends EventEmitter<Idio16Events> {
  readonly definition: DeviceDefinition;
  /** The device built from `definition`: what a server serves. */
  readonly device: PciDevice;
  #outputs = 0;
  #inputs: number;
  #irqEnabled = false;
  #irqStatus = 0;
  #line = false;
  #filtersAll = false;
  #filters0to7 = 0;

  constructor(options: Idio16Options = {}) {
    super();
    this.#inputs = checkMask(options.inputs ?? 0, "inputs");
    const handlers = {
      read: (offset: number, size: number, dev: DeviceContext) => this.read(offset, size, dev),
      write: (offset: number, data: Uint8Array, dev: DeviceContext) =>
        this.write(offset, data, dev),
    };
    const bar: BarDefinition =
      options.bar === "mem32"
        ? { kind: "mem32", size: MEM_BAR_SIZE, prefetchable: false, ...handlers }
        : { kind: "io", size: IDIO16_REG_COUNT, ...handlers };
    const bars: (BarDefinition | undefined)[] = [];
    bars[IDIO16_BAR] = bar;
    this.definition = {
      name: options.name ?? "pci-idio-16",
      vendorId: IDIO16_VENDOR_ID,
      deviceId: IDIO16_DEVICE_ID,
      classCode: IDIO16_CLASS_CODE,
      interruptPin: 1,
      bars,
      reset: (dev) => this.reset(dev),
      migration: { save: () => this.save(), load: (state) => this.load(state) },
    };
    this.device = createDevice(this.definition);
  }

  /** The output latch, bit n = output n (FET driven). */
  get outputs(): number {
    return this.#outputs;
  }

  /** Output `line` (0-15). */
  output(line: number): boolean {
    return ((this.#outputs >>> checkLine(line)) & 1) === 1;
  }

  /** The input levels, bit n = input n energized. */
  get inputs(): number {
    return this.#inputs;
  }

  /** Drives all 16 inputs at once; changes latch the interrupt when it is enabled. */
  setInputs(mask: number): void {
    const next = checkMask(mask, "inputs");
    const changed = this.#inputs ^ next;
    this.#inputs = next;
    if (changed === 0 || !this.#irqEnabled) return;
    this.#irqStatus |= IDIO16_IRQ_STATUS_PENDING;
    if (changed & 0x00ff) this.#irqStatus |= IDIO16_IRQ_STATUS_COS0_7;
    if (changed & 0xff00) this.#irqStatus |= IDIO16_IRQ_STATUS_COS8_15;
    this.#updateLine(this.device);
  }

  /** Drives input `line` (0-15). */
  setInput(line: number, value: boolean): void {
    const bit = 1 << checkLine(line);
    this.setInputs(value ? this.#inputs | bit : this.#inputs & ~bit);
  }

  /** The change-of-state interrupt is enabled (the guest read +2 since it last wrote it). */
  get irqEnabled(): boolean {
    return this.#irqEnabled;
  }

  /** What +6 reads. */
  get irqStatus(): number {
    return this.#irqStatus;
  }

  /** The INTx line level the model drives. */
  get irqAsserted(): boolean {
    return this.#line;
  }

  /** Inputs whose filter is active (bit n = input n). */
  get filters(): number {
    return this.#filtersAll ? 0xffff : this.#filters0to7;
  }

  /** BAR 2 read handler. */
  read(offset: number, size: number, dev: DeviceContext): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = this.#readByte(dev, offset + i);
    return out;
  }

  /** BAR 2 write handler. */
  write(offset: number, data: Uint8Array, dev: DeviceContext): void {
    for (const [i, byte] of data.entries()) this.#writeByte(dev, offset + i, byte);
  }

  /**
   * The card's own state for migration: 0 outputs u16 | 2 flags u8 (bit 0 interrupt
   * enabled, 1 line, 2 all filters) | 3 irq status u8 | 4 filters 0-7 u8. The inputs
   * are not in it: they are wired to the destination's world, which drives them.
   */
  save(): Uint8Array {
    const flags = (this.#irqEnabled ? 1 : 0) | (this.#line ? 2 : 0) | (this.#filtersAll ? 4 : 0);
    return Uint8Array.of(
      this.#outputs & 0xff,
      this.#outputs >>> 8,
      flags,
      this.#irqStatus,
      this.#filters0to7,
    );
  }

  /** Takes what save() produced (the framework restores the INTx line itself). */
  load(state: Uint8Array): void {
    if (state.byteLength !== 5 || state[2]! > 7) {
      throw new VfioError("EINVAL", `PCI-IDIO-16: ${state.byteLength}-byte state is not ours`);
    }
    this.#setOutputs(state[0]! | (state[1]! << 8));
    this.#irqEnabled = (state[2]! & 1) !== 0;
    this.#line = (state[2]! & 2) !== 0;
    this.#filtersAll = (state[2]! & 4) !== 0;
    this.#irqStatus = state[3]!;
    this.#filters0to7 = state[4]!;
  }

  /** Device reset: outputs off, interrupt disabled and cleared, filters off. */
  reset(dev: DeviceContext): void {
    this.#setOutputs(0);
    this.#irqEnabled = false;
    this.#irqStatus = 0;
    this.#filtersAll = false;
    this.#filters0to7 = 0;
    this.#updateLine(dev);
  }

  #readByte(dev: DeviceContext, reg: number): number {
    switch (reg) {
      case IDIO16_REG_OUT0_7:
        return this.#outputs & 0xff;
      case IDIO16_REG_IN0_7:
        return this.#inputs & 0xff;
      case IDIO16_REG_IRQ_CTL:
        this.#irqEnabled = true;
        this.#updateLine(dev);
        return 0;
      case IDIO16_REG_FILTER_CTL:
        this.#filtersAll = true;
        return 0;
      case IDIO16_REG_OUT8_15:
        return this.#outputs >>> 8;
      case IDIO16_REG_IN8_15:
        return this.#inputs >>> 8;
      case IDIO16_REG_IRQ_STATUS:
        return this.#irqStatus;
      case IDIO16_REG_FILTER0_7:
        return this.filters & 0xff;
      default:
        return 0;
    }
  }

  #writeByte(dev: DeviceContext, reg: number, value: number): void {
    switch (reg) {
      case IDIO16_REG_OUT0_7:
        this.#setOutputs((this.#outputs & 0xff00) | value);
        return;
      case IDIO16_REG_IN0_7:
        this.#irqStatus = 0;
        this.#updateLine(dev);
        return;
      case IDIO16_REG_IRQ_CTL:
        this.#irqEnabled = false;
        this.#updateLine(dev);
        return;
      case IDIO16_REG_FILTER_CTL:
        this.#filtersAll = false;
        return;
      case IDIO16_REG_OUT8_15:
        this.#setOutputs((this.#outputs & 0x00ff) | (value << 8));
        return;
      case IDIO16_REG_FILTER0_7:
        this.#filters0to7 = value;
        return;
      default:
        return; // +5, +6 and anything past the registers are unused for writes
    }
  }

  #setOutputs(value: number): void {
    const previous = this.#outputs;
    if (value === previous) return;
    this.#outputs = value;
    this.emit("outputs", value, previous);
  }

  #updateLine(dev: DeviceContext): void {
    const level = this.#irqEnabled && (this.#irqStatus & IDIO16_IRQ_STATUS_PENDING) !== 0;
    if (level === this.#line) return;
    this.#line = level;
    if (level) dev.irq.intx.assert();
    else dev.irq.intx.deassert();
    this.emit("irq", level);
  }
}

function checkLine(line: number): number {
  if (!Number.isInteger(line) || line < 0 || line > 15) {
    throw new VfioError("EINVAL", `PCI-IDIO-16: line ${line} is not 0..15`);
  }
  return line;
}

function checkMask(mask: number, what: string): number {
  if (!Number.isInteger(mask) || mask < 0 || mask > 0xffff) {
    throw new VfioError(
      "EINVAL",
      `PCI-IDIO-16: ${what} 0x${mask.toString(16)} is not a 16-bit mask`,
    );
  }
  return mask;
}
