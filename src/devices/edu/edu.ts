/**
 * QEMU's "edu" educational PCI device (docs/specs/edu.rst, hw/misc/edu.c), written
 * from its published description: identification, liveness check, factorial with a
 * busy bit, an interrupt status/raise/acknowledge block, and a DMA engine with a
 * 4 KiB buffer at device address 0x40000. Interrupts go to MSI vector 0 when the
 * client enabled MSI, else to INTx as a level asserted while the status is non-zero.
 *
 * It migrates: registers, the buffer, and work in progress (a factorial or DMA that
 * has not finished resumes on the destination with the time it had left). The
 * framework carries config space and interrupt state.
 *
 * Differences from QEMU, on purpose:
 * - Factorial and DMA finish on a later turn of the event loop (setImmediate), or
 *   after `workDelayMs` (QEMU's DMA timer is 100 ms), not on a thread. The busy bits
 *   are set when the access that starts the work returns, so a driver must poll them
 *   (or wait for the interrupt) as with QEMU.
 * - A DMA whose device-side range leaves 0x40000..0x40fff moves no data (QEMU logs
 *   the guest error and copies anyway, past its buffer). Neither does one the
 *   framework refuses: PCI_COMMAND_MASTER clear, or an IOMMU fault. Each such
 *   failure is counted in `dmaErrors`; the command still completes (START clears
 *   and, if asked, interrupt 0x100 is raised), as QEMU's command flow does.
 * - Device reset clears every register and the buffer. QEMU's edu has no reset
 *   handler, so its state survives a reset; state must not leak across clients here.
 * - Acknowledging the last status bit lowers INTx even while MSI is on (QEMU keeps a
 *   line raised before the switch to MSI until an acknowledge without MSI).
 * - Accesses of sizes other than 4/8 or not naturally aligned read as all-ones and
 *   drop writes. QEMU's memory core refuses them before edu.c sees them; edu.c
 *   itself answers wrong sizes (8 bytes below 0x80) the same way we do.
 */
import { debuglog } from "node:util";
import type { DeviceContext, DeviceDefinition, ReadResult } from "../../server/index.js";
import { allOnes, leRead } from "../bytes.js";
import { factorial32 } from "./factorial.js";
import {
  EDU_BAR_SIZE,
  EDU_CLASS_CODE,
  EDU_DEFAULT_DMA_MASK,
  EDU_DEVICE_ID,
  EDU_DMA_BUF_ADDR,
  EDU_DMA_BUF_SIZE,
  EDU_DMA_CMD_IRQ,
  EDU_DMA_CMD_START,
  EDU_DMA_CMD_TO_RAM,
  EDU_ID_VALUE,
  EDU_IRQ_DMA,
  EDU_IRQ_FACT,
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
  EDU_REVISION,
  EDU_STATUS_COMPUTING,
  EDU_STATUS_IRQ_FACT,
  EDU_SUBSYSTEM_ID,
  EDU_SUBSYSTEM_VENDOR_ID,
  EDU_VENDOR_ID,
  EDU_WIDE_REGS_START,
} from "./regs.js";

const debug = debuglog("edu");

const U32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;

/** Options of the edu model. */
export interface EduOptions {
  /** For logs; default "edu". */
  readonly name?: string;
  /** RAM addresses are masked with this before a DMA (QEMU's dma_mask); default 28 bits. */
  readonly dmaMask?: bigint;
  /** Time a factorial or DMA takes; default 0 (the next turn of the event loop). */
  readonly workDelayMs?: number;
}

/** The work edu does in the background, each kind at most once at a time. */
type WorkKind = "factorial" | "dma";

/** Saved state layout version (see save()). */
const EDU_STATE_VERSION = 1;

/**
 * The edu model: its DeviceDefinition plus host-side views of its state. Every effect
 * on the device (interrupts, DMA) goes through the context its callbacks receive;
 * work that finishes later keeps the context of the access that started it.
 */
export class EduDevice {
  readonly definition: DeviceDefinition;
  readonly dmaMask: bigint;
  readonly workDelayMs: number;
  #liveness = 0;
  #fact = 0;
  #status = 0;
  #irqStatus = 0;
  #dmaSrc = 0n;
  #dmaDst = 0n;
  #dmaCount = 0n;
  #dmaCmd = 0n;
  readonly #buffer = new Uint8Array(EDU_DMA_BUF_SIZE);
  /** Bumped by reset: work started before it must not touch the new state. */
  #generation = 0;
  readonly #jobs = new Set<Promise<void>>();
  /** When each pending piece of work is due (ms since the epoch), while running. */
  readonly #due = new Map<WorkKind, number>();
  /** Time each piece of work had left when the device stopped (or on the source). */
  readonly #left = new Map<WorkKind, number>();
  readonly #cancels = new Map<WorkKind, () => void>();
  #dmaErrors = 0;
  #lastDmaError: string | undefined;

  constructor(options: EduOptions = {}) {
    this.dmaMask = options.dmaMask ?? EDU_DEFAULT_DMA_MASK;
    this.workDelayMs = options.workDelayMs ?? 0;
    if (!Number.isFinite(this.workDelayMs) || this.workDelayMs < 0) {
      throw new RangeError(`edu: workDelayMs ${this.workDelayMs} is not a duration`);
    }
    this.definition = {
      name: options.name ?? "edu",
      vendorId: EDU_VENDOR_ID,
      deviceId: EDU_DEVICE_ID,
      subsystemVendorId: EDU_SUBSYSTEM_VENDOR_ID,
      subsystemId: EDU_SUBSYSTEM_ID,
      classCode: EDU_CLASS_CODE,
      revision: EDU_REVISION,
      interruptPin: 1,
      bars: [
        {
          kind: "mem32",
          size: EDU_BAR_SIZE,
          prefetchable: false,
          read: (offset, size) => this.read(offset, size),
          write: (offset, data, dev) => this.write(offset, data, dev),
        },
      ],
      // As QEMU's msi_init(dev, 0, 1, true, false): one vector, 64-bit, no masking.
      capabilities: [{ kind: "msi", vectors: 1, addr64: true, perVectorMask: false }],
      reset: (dev) => this.reset(dev),
      migration: {
        stop: () => this.#pause(),
        start: (dev) => this.#resume(dev),
        save: () => this.save(),
        load: (state) => this.load(state),
      },
    };
  }

  /** The 4 KiB DMA buffer (device addresses 0x40000..0x40fff), live. */
  get buffer(): Uint8Array {
    return this.#buffer;
  }

  get status(): number {
    return this.#status;
  }

  get irqStatus(): number {
    return this.#irqStatus;
  }

  /** DMAs that moved no data (bad device range, bus master off, IOMMU fault). */
  get dmaErrors(): number {
    return this.#dmaErrors;
  }

  get lastDmaError(): string | undefined {
    return this.#lastDmaError;
  }

  /** True while a factorial or DMA started by the guest has not finished. */
  get busy(): boolean {
    return this.#jobs.size > 0;
  }

  /** Resolves once every factorial and DMA started so far has finished. */
  async idle(): Promise<void> {
    while (this.#jobs.size > 0) await Promise.all(this.#jobs);
  }

  /** BAR0 read handler. */
  read(offset: number, size: number): ReadResult {
    if (!validAccess(offset, size)) return allOnes(size);
    const v = this.#readReg(offset);
    return size === 8 ? v & U64 : Number(v & U32);
  }

  /** BAR0 write handler. */
  write(offset: number, data: Uint8Array, dev: DeviceContext): void {
    if (!validAccess(offset, data.byteLength)) return;
    const v = leRead(data);
    switch (offset) {
      case EDU_REG_LIVENESS:
        this.#liveness = Number(~v & U32);
        return;
      case EDU_REG_FACTORIAL:
        // QEMU ignores a new operand while the previous factorial runs.
        if (this.#status & EDU_STATUS_COMPUTING) return;
        this.#fact = Number(v);
        this.#status |= EDU_STATUS_COMPUTING;
        this.#schedule("factorial", dev, this.workDelayMs);
        return;
      case EDU_REG_STATUS:
        // Only the interrupt-enable bit is writable; COMPUTING is the device's.
        if (v & BigInt(EDU_STATUS_IRQ_FACT)) this.#status |= EDU_STATUS_IRQ_FACT;
        else this.#status &= ~EDU_STATUS_IRQ_FACT;
        return;
      case EDU_REG_IRQ_RAISE:
        this.#raise(dev, Number(v));
        return;
      case EDU_REG_IRQ_ACK:
        this.#lower(dev, Number(v));
        return;
      case EDU_REG_DMA_SRC:
      case EDU_REG_DMA_DST:
      case EDU_REG_DMA_COUNT:
        // The transfer's parameters are frozen while it runs.
        if (this.#dmaCmd & BigInt(EDU_DMA_CMD_START)) return;
        if (offset === EDU_REG_DMA_SRC) this.#dmaSrc = v;
        else if (offset === EDU_REG_DMA_DST) this.#dmaDst = v;
        else this.#dmaCount = v;
        return;
      case EDU_REG_DMA_CMD:
        if (!(v & BigInt(EDU_DMA_CMD_START)) || this.#dmaCmd & BigInt(EDU_DMA_CMD_START)) return;
        this.#dmaCmd = v;
        this.#schedule("dma", dev, this.workDelayMs);
        return;
      default:
        return; // read-only and unimplemented registers
    }
  }

  /** Device reset: every register, the buffer and pending work are cleared. */
  reset(dev: DeviceContext): void {
    this.#generation++;
    this.#due.clear();
    this.#left.clear();
    this.#cancelWork();
    this.#liveness = 0;
    this.#fact = 0;
    this.#status = 0;
    this.#irqStatus = 0;
    this.#dmaSrc = 0n;
    this.#dmaDst = 0n;
    this.#dmaCount = 0n;
    this.#dmaCmd = 0n;
    this.#buffer.fill(0);
    dev.irq.intx.deassert();
  }

  #readReg(offset: number): bigint {
    switch (offset) {
      case EDU_REG_ID:
        return BigInt(EDU_ID_VALUE);
      case EDU_REG_LIVENESS:
        return BigInt(this.#liveness);
      case EDU_REG_FACTORIAL:
        return BigInt(this.#fact);
      case EDU_REG_STATUS:
        return BigInt(this.#status);
      case EDU_REG_IRQ_STATUS:
        return BigInt(this.#irqStatus);
      case EDU_REG_DMA_SRC:
        return this.#dmaSrc;
      case EDU_REG_DMA_DST:
        return this.#dmaDst;
      case EDU_REG_DMA_COUNT:
        return this.#dmaCount;
      case EDU_REG_DMA_CMD:
        return this.#dmaCmd;
      default:
        return U64; // write-only and unimplemented registers read as all-ones
    }
  }

  #raise(dev: DeviceContext, bits: number): void {
    this.#irqStatus = (this.#irqStatus | bits) >>> 0;
    if (this.#irqStatus === 0) return;
    const irq = dev.irq;
    if (irq.mode === "msi") irq.trigger(0);
    else irq.intx.assert();
  }

  #lower(dev: DeviceContext, bits: number): void {
    this.#irqStatus = (this.#irqStatus & ~bits) >>> 0;
    if (this.#irqStatus === 0) dev.irq.intx.deassert();
  }

  /**
   * Runs a piece of work after `delayMs` (0: on a later turn of the event loop) unless
   * a reset or a migration stop intervenes.
   */
  #schedule(kind: WorkKind, dev: DeviceContext, delayMs: number): void {
    const generation = this.#generation;
    this.#due.set(kind, Date.now() + delayMs);
    const job = new Promise<void>((resolve) => {
      const timer = delayMs > 0 ? setTimeout(resolve, delayMs) : undefined;
      const immediate = timer === undefined ? setImmediate(resolve) : undefined;
      // Cancelling settles the job at once (as a no-op: the generation moved on).
      this.#cancels.set(kind, () => {
        clearTimeout(timer);
        clearImmediate(immediate);
        resolve();
      });
    })
      .then(() => {
        if (generation !== this.#generation) return;
        this.#due.delete(kind);
        return kind === "factorial" ? this.#finishFactorial(dev) : this.#runDma(dev);
      })
      .catch((err: unknown) => debug("%s: background work failed: %s", this.definition.name, err))
      .finally(() => this.#jobs.delete(job));
    this.#jobs.add(job);
  }

  /** Settles every pending timer (its work is skipped: call after bumping the generation). */
  #cancelWork(): void {
    for (const cancel of this.#cancels.values()) cancel();
    this.#cancels.clear();
  }

  /** Migration stop: pending work is cancelled and remembered with the time it had left. */
  async #pause(): Promise<void> {
    this.#generation++;
    const now = Date.now();
    for (const [kind, due] of this.#due) this.#left.set(kind, Math.max(0, due - now));
    this.#due.clear();
    this.#cancelWork();
    // A DMA already past its timer finishes its copy (or fails) under the old
    // generation and changes nothing; it runs again on resume.
    await this.idle();
  }

  /** Migration start (the destination, or the source after an aborted migration). */
  #resume(dev: DeviceContext): void {
    const left = new Map(this.#left);
    this.#left.clear();
    if (this.#status & EDU_STATUS_COMPUTING) {
      this.#schedule("factorial", dev, left.get("factorial") ?? this.workDelayMs);
    }
    if (this.#dmaCmd & BigInt(EDU_DMA_CMD_START)) {
      this.#schedule("dma", dev, left.get("dma") ?? this.workDelayMs);
    }
  }

  /**
   * The device's own state for migration: registers, buffer, and the time left of
   * the work in progress (the busy bits say which work that is).
   *   version u32 | liveness u32 | fact u32 | status u32 | irq status u32
   *   | dma src, dst, count, cmd u64 | factorial ms left f64 | dma ms left f64 | buffer
   */
  save(): Uint8Array {
    const out = new Uint8Array(EDU_SAVED_SIZE);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, EDU_STATE_VERSION, true);
    dv.setUint32(4, this.#liveness, true);
    dv.setUint32(8, this.#fact, true);
    dv.setUint32(12, this.#status, true);
    dv.setUint32(16, this.#irqStatus, true);
    dv.setBigUint64(20, this.#dmaSrc, true);
    dv.setBigUint64(28, this.#dmaDst, true);
    dv.setBigUint64(36, this.#dmaCount, true);
    dv.setBigUint64(44, this.#dmaCmd, true);
    dv.setFloat64(52, this.#left.get("factorial") ?? 0, true);
    dv.setFloat64(60, this.#left.get("dma") ?? 0, true);
    out.set(this.#buffer, EDU_SAVED_HEADER);
    return out;
  }

  /** Takes the state save() produced (on a stopped device); RangeError if malformed. */
  load(state: Uint8Array): void {
    if (state.byteLength !== EDU_SAVED_SIZE) {
      throw new RangeError(`edu state is ${state.byteLength} bytes, expected ${EDU_SAVED_SIZE}`);
    }
    const dv = new DataView(state.buffer, state.byteOffset, state.byteLength);
    const version = dv.getUint32(0, true);
    if (version !== EDU_STATE_VERSION) throw new RangeError(`edu state version ${version}`);
    const factLeft = dv.getFloat64(52, true);
    const dmaLeft = dv.getFloat64(60, true);
    if (!(factLeft >= 0 && dmaLeft >= 0)) throw new RangeError("edu state: bad time left");
    this.#generation++;
    this.#due.clear();
    this.#cancelWork();
    this.#liveness = dv.getUint32(4, true);
    this.#fact = dv.getUint32(8, true);
    this.#status = dv.getUint32(12, true);
    this.#irqStatus = dv.getUint32(16, true);
    this.#dmaSrc = dv.getBigUint64(20, true);
    this.#dmaDst = dv.getBigUint64(28, true);
    this.#dmaCount = dv.getBigUint64(36, true);
    this.#dmaCmd = dv.getBigUint64(44, true);
    this.#left.clear();
    if (this.#status & EDU_STATUS_COMPUTING) this.#left.set("factorial", factLeft);
    if (this.#dmaCmd & BigInt(EDU_DMA_CMD_START)) this.#left.set("dma", dmaLeft);
    this.#buffer.set(state.subarray(EDU_SAVED_HEADER));
  }

  #finishFactorial(dev: DeviceContext): void {
    this.#fact = factorial32(this.#fact);
    this.#status &= ~EDU_STATUS_COMPUTING;
    if (this.#status & EDU_STATUS_IRQ_FACT) this.#raise(dev, EDU_IRQ_FACT);
  }

  async #runDma(dev: DeviceContext): Promise<void> {
    const generation = this.#generation;
    const cmd = this.#dmaCmd;
    await this.#transfer(dev, (cmd & BigInt(EDU_DMA_CMD_TO_RAM)) !== 0n, generation);
    if (generation !== this.#generation) return;
    this.#dmaCmd &= ~BigInt(EDU_DMA_CMD_START);
    if (cmd & BigInt(EDU_DMA_CMD_IRQ)) this.#raise(dev, EDU_IRQ_DMA);
  }

  /**
   * Moves the data of the programmed DMA, or records why it could not. Bus mastering
   * is not checked here: the framework refuses DMA while it is off, like any fault.
   */
  async #transfer(dev: DeviceContext, toRam: boolean, generation: number): Promise<void> {
    const count = this.#dmaCount;
    const device = toRam ? this.#dmaSrc : this.#dmaDst;
    let ram = toRam ? this.#dmaDst : this.#dmaSrc;
    const start = BigInt(EDU_DMA_BUF_ADDR);
    if (device < start || device + count > start + BigInt(EDU_DMA_BUF_SIZE)) {
      return this.#dmaFailed(
        `device range 0x${device.toString(16)}+0x${count.toString(16)} is outside the buffer 0x40000-0x40fff`,
      );
    }
    if (count === 0n) return;
    if ((ram & this.dmaMask) !== ram) {
      debug(
        "%s: clamping DMA address 0x%s to the DMA mask",
        this.definition.name,
        ram.toString(16),
      );
      ram &= this.dmaMask;
    }
    const offset = Number(device - start);
    const length = Number(count);
    try {
      if (toRam) {
        await dev.dma.write(ram, this.#buffer.slice(offset, offset + length));
      } else {
        const data = await dev.dma.read(ram, length);
        if (generation === this.#generation) this.#buffer.set(data.subarray(0, length), offset);
      }
    } catch (err) {
      this.#dmaFailed(
        `RAM access at 0x${ram.toString(16)} failed: ${(err as Error)?.message ?? err}`,
      );
    }
  }

  #dmaFailed(reason: string): void {
    this.#dmaErrors++;
    this.#lastDmaError = reason;
    debug("%s: DMA moved no data: %s", this.definition.name, reason);
  }
}

const EDU_SAVED_HEADER = 68;
const EDU_SAVED_SIZE = EDU_SAVED_HEADER + EDU_DMA_BUF_SIZE;

/** Sizes and alignment edu accepts: 4 bytes anywhere, 8 bytes from 0x80 on. */
function validAccess(offset: number, size: number): boolean {
  if (size !== 4 && size !== 8) return false;
  if (offset % size !== 0) return false;
  return size === 4 || offset >= EDU_WIDE_REGS_START;
}
