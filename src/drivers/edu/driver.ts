import { Container, type DeviceHandle } from "../../client/index.js";
import { VfioError } from "../../errors.js";
import {
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_REVISION_ID,
  PCI_VENDOR_ID,
} from "../../pci/regs.js";
import { EduInterrupts, type EduIrqCounts, type EduIrqMode } from "./interrupts.js";
import {
  DMA_ADDR_LIMIT,
  DMA_BUF_ADDR,
  DMA_BUF_SIZE,
  DMA_CMD_IRQ,
  DMA_CMD_START,
  DMA_CMD_TO_RAM,
  EDU_BAR,
  EDU_DEVICE_ID,
  EDU_VENDOR_ID,
  ID_MAGIC,
  IRQ_DMA,
  IRQ_FACTORIAL,
  REG_DMA_CMD,
  REG_DMA_COUNT,
  REG_DMA_DST,
  REG_DMA_SRC,
  REG_FACTORIAL,
  REG_ID,
  REG_IRQ_RAISE,
  REG_LIVENESS,
  REG_STATUS,
  STATUS_IRQ_FACTORIAL,
} from "./regs.js";

/** What probe() found. */
export interface EduIdentity {
  readonly vendorId: number;
  readonly deviceId: number;
  readonly revision: number;
  /** The identification register, 0xRRrr00ed. */
  readonly idRegister: number;
  readonly major: number;
  readonly minor: number;
}

/** How `EduDriver.open` sets the device up. */
export interface EduDriverOptions {
  /** Interrupt to use; default "auto" (MSI when offered, else INTx). */
  irqMode?: EduIrqMode;
  /**
   * Container to attach the device to; the caller keeps it (close() detaches only).
   * Default: a private container, closed with the driver.
   */
  container?: Container;
  /** How long to wait for a completion interrupt, in ms (0 = forever); default 5000. */
  timeoutMs?: number;
}

/**
 * A user-level driver for QEMU's edu device, written against the driver SDK only
 * (DeviceHandle, Container): probe, liveness, factorial and DMA with interrupt
 * completion. The device has one factorial unit and one DMA engine, so calls to each
 * are queued; the two run side by side. A DeviceHandle.reset() tears the interrupt
 * down (waits then fail with ECANCELED): open a new driver after one.
 */
export class EduDriver {
  readonly device: DeviceHandle;
  readonly container: Container;
  readonly identity: EduIdentity;
  readonly interrupts: EduInterrupts;
  readonly timeoutMs: number;
  readonly #ownsContainer: boolean;
  #factorialQueue: Promise<unknown> = Promise.resolve();
  #dmaQueue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | null = null;

  /**
   * Checks that `device` is an edu: vendor/device id in config space, then the
   * identification register in BAR0 (which needs memory decoding, so it is enabled).
   * ENODEV when it is something else.
   */
  static async probe(device: DeviceHandle): Promise<EduIdentity> {
    if (!device.isPci) throw new VfioError("ENODEV", `${device.name} is not a PCI device`);
    const vendorId = await device.config.read16(PCI_VENDOR_ID);
    const deviceId = await device.config.read16(PCI_DEVICE_ID);
    if (vendorId !== EDU_VENDOR_ID || deviceId !== EDU_DEVICE_ID) {
      throw new VfioError(
        "ENODEV",
        `${device.name} is ${hex4(vendorId)}:${hex4(deviceId)}, not an edu (${hex4(EDU_VENDOR_ID)}:${hex4(EDU_DEVICE_ID)})`,
      );
    }
    const revision = await device.config.read8(PCI_REVISION_ID);
    if (!device.memoryEnabled) await device.config.enableMemory();
    const idRegister = await device.read32(EDU_BAR, REG_ID);
    if ((idRegister & 0xff) !== ID_MAGIC) {
      throw new VfioError(
        "ENODEV",
        `${device.name}: identification register reads 0x${idRegister.toString(16)}, expected 0x......${ID_MAGIC.toString(16)}`,
      );
    }
    return {
      vendorId,
      deviceId,
      revision,
      idRegister,
      major: idRegister >>> 24,
      minor: (idRegister >>> 16) & 0xff,
    };
  }

  /**
   * Probes the device, turns on memory decoding and bus mastering (and INTx, by
   * clearing DisINTx), attaches it to a container and enables its interrupt.
   */
  static async open(device: DeviceHandle, options: EduDriverOptions = {}): Promise<EduDriver> {
    const identity = await EduDriver.probe(device);
    await device.config.updateCommand(
      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
      PCI_COMMAND_INTX_DISABLE,
    );
    const ownsContainer = options.container === undefined;
    const container = options.container ?? new Container();
    let interrupts: EduInterrupts | undefined;
    try {
      await container.attach(device);
      interrupts = await EduInterrupts.enable(device, options.irqMode ?? "auto");
      await device.write32(EDU_BAR, REG_STATUS, STATUS_IRQ_FACTORIAL);
      return new EduDriver(
        device,
        container,
        ownsContainer,
        identity,
        interrupts,
        options.timeoutMs ?? 5000,
      );
    } catch (err) {
      await interrupts?.close().catch(() => {});
      if (ownsContainer) await container.close().catch(() => {});
      else await container.detach(device).catch(() => {});
      throw err;
    }
  }

  private constructor(
    device: DeviceHandle,
    container: Container,
    ownsContainer: boolean,
    identity: EduIdentity,
    interrupts: EduInterrupts,
    timeoutMs: number,
  ) {
    this.device = device;
    this.container = container;
    this.#ownsContainer = ownsContainer;
    this.identity = identity;
    this.interrupts = interrupts;
    this.timeoutMs = timeoutMs;
  }

  get irqMode(): "msi" | "intx" {
    return this.interrupts.mode;
  }

  get irqCounts(): EduIrqCounts {
    return this.interrupts.counts;
  }

  /** Writes each value to the liveness register and checks it reads back inverted. */
  async checkLiveness(
    values: readonly number[] = [0x12345678, 0xffffffff, 0, 0xa5a55a5a],
  ): Promise<boolean> {
    for (const v of values) {
      await this.device.write32(EDU_BAR, REG_LIVENESS, v);
      if ((await this.device.read32(EDU_BAR, REG_LIVENESS)) !== ~v >>> 0) return false;
    }
    return true;
  }

  /** n! in 32-bit arithmetic, computed by the device; completion by interrupt. */
  factorial(n: number): Promise<number> {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      return Promise.reject(
        new VfioError("EINVAL", `factorial: ${n} is not an unsigned 32-bit integer`),
      );
    }
    return this.#queue("factorial", async () => {
      await this.#writeAwaitingIrq(IRQ_FACTORIAL, REG_FACTORIAL, n);
      return this.device.read32(EDU_BAR, REG_FACTORIAL);
    });
  }

  /** DMA `length` bytes from RAM at `iova` into the device buffer at `bufferOffset`. */
  dmaToDevice(iova: bigint, length: number, bufferOffset = 0): Promise<void> {
    return this.#dma(iova, length, bufferOffset, false);
  }

  /** DMA `length` bytes of the device buffer at `bufferOffset` to RAM at `iova`. */
  dmaFromDevice(iova: bigint, length: number, bufferOffset = 0): Promise<void> {
    return this.#dma(iova, length, bufferOffset, true);
  }

  /**
   * A software interrupt: writes `bits` to the raise register and resolves with the
   * status the handler acknowledged once it has seen them all.
   */
  async raise(bits: number): Promise<number> {
    if (!Number.isInteger(bits) || bits <= 0 || bits > 0xffffffff) {
      throw new VfioError("EINVAL", `raise: 0x${bits.toString(16)} is not a non-zero 32-bit mask`);
    }
    return this.#writeAwaitingIrq(bits, REG_IRQ_RAISE, bits);
  }

  /**
   * Waits for queued work, disables the interrupt and leaves (or closes) the
   * container. The DeviceHandle stays open: it is the caller's. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([this.#factorialQueue, this.#dmaQueue]);
    const live = !this.device.closed && this.device.disconnectError === null;
    if (live) await this.device.write32(EDU_BAR, REG_STATUS, 0).catch(() => {});
    await this.interrupts.close();
    if (this.#ownsContainer) await this.container.close();
    else await this.container.detach(this.device);
  }

  #dma(iova: bigint, length: number, bufferOffset: number, toRam: boolean): Promise<void> {
    try {
      checkDma(iova, length, bufferOffset);
    } catch (err) {
      return Promise.reject(err);
    }
    const device = BigInt(DMA_BUF_ADDR + bufferOffset);
    return this.#queue("dma", async () => {
      await this.device.write64(EDU_BAR, REG_DMA_SRC, toRam ? device : iova);
      await this.device.write64(EDU_BAR, REG_DMA_DST, toRam ? iova : device);
      await this.device.write64(EDU_BAR, REG_DMA_COUNT, BigInt(length));
      const cmd = DMA_CMD_START | DMA_CMD_IRQ | (toRam ? DMA_CMD_TO_RAM : 0);
      await this.#writeAwaitingIrq(IRQ_DMA, REG_DMA_CMD, cmd);
    });
  }

  /**
   * Writes `value` to the 32-bit register `reg` and resolves with the status the
   * interrupt handler acknowledged once it has seen `bits`. The wait is armed before
   * the write, so an interrupt that comes at once is not missed.
   */
  async #writeAwaitingIrq(bits: number, reg: number, value: number): Promise<number> {
    const done = this.interrupts.expect(bits, this.timeoutMs);
    try {
      await this.device.write32(EDU_BAR, reg, value);
    } catch (err) {
      done.catch(() => {}); // the write failed: nobody waits for this interrupt
      throw err;
    }
    return done;
  }

  #queue<T>(unit: "factorial" | "dma", work: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new VfioError("EBADF", "edu driver is closed"));
    const prev = unit === "factorial" ? this.#factorialQueue : this.#dmaQueue;
    const run = prev.then(work, work);
    const settled = run.catch(() => {});
    if (unit === "factorial") this.#factorialQueue = settled;
    else this.#dmaQueue = settled;
    return run;
  }
}

function checkDma(iova: bigint, length: number, bufferOffset: number): void {
  if (!Number.isInteger(length) || length <= 0 || length > DMA_BUF_SIZE) {
    throw new VfioError("EINVAL", `edu DMA: length ${length} is not in 1..${DMA_BUF_SIZE}`);
  }
  if (!Number.isInteger(bufferOffset) || bufferOffset < 0 || bufferOffset + length > DMA_BUF_SIZE) {
    throw new VfioError(
      "EINVAL",
      `edu DMA: buffer offset ${bufferOffset} + ${length} leaves the 4 KiB buffer`,
    );
  }
  if (iova < 0n || iova + BigInt(length) > DMA_ADDR_LIMIT) {
    throw new VfioError(
      "EINVAL",
      `edu DMA: iova 0x${iova.toString(16)} + ${length} is beyond the engine's 28 address bits`,
    );
  }
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, "0");
}
