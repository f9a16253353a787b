import { debuglog } from "node:util";
import {
  type DeviceHandle,
  type IrqVector,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
} from "../../client/index.js";
import { VfioError } from "../../errors.js";
import { EDU_BAR, IRQ_DMA, IRQ_FACTORIAL, REG_IRQ_ACK, REG_IRQ_STATUS } from "./regs.js";

const debug = debuglog("edu-driver");

/** "auto" takes MSI when the device offers it and falls back to INTx. */
export type EduIrqMode = "auto" | "msi" | "intx";

/** What the interrupt handler has seen, by source. */
export interface EduIrqCounts {
  /** Times the handler woke up (one wake-up may cover several coalesced triggers). */
  readonly wakeups: number;
  /** Triggers the eventfd counted. */
  readonly triggers: number;
  /** Wake-ups that found IRQ_STATUS with IRQ_FACTORIAL set. */
  readonly factorial: number;
  /** ... with IRQ_DMA set. */
  readonly dma: number;
  /** ... with any other bit set (software interrupts through REG_IRQ_RAISE). */
  readonly raised: number;
  /** Wake-ups that found IRQ_STATUS clear (an edge for bits already acknowledged). */
  readonly spurious: number;
}

interface Waiter {
  remaining: number;
  seen: number;
  resolve(status: number): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The edu interrupt handler: one vector (MSI vector 0 or INTx), serviced like the
 * kernel driver's handler: read IRQ_STATUS, acknowledge exactly the bits read, wake
 * whoever waits for them, and (INTx) unmask the automasked line. Bits raised after
 * the status read are not acknowledged, so they raise a fresh interrupt.
 */
export class EduInterrupts {
  readonly mode: "msi" | "intx";
  readonly #device: DeviceHandle;
  readonly #vector: IrqVector;
  readonly #waiters = new Set<Waiter>();
  readonly #loop: Promise<void>;
  #failed: Error | null = null;
  #closed = false;
  #counts = { wakeups: 0, triggers: 0, factorial: 0, dma: 0, raised: 0, spurious: 0 };

  /** Enables MSI or INTx with an eventfd and starts servicing it. */
  static async enable(device: DeviceHandle, mode: EduIrqMode = "auto"): Promise<EduInterrupts> {
    const chosen =
      mode === "auto"
        ? (await vectorsOf(device, VFIO_PCI_MSI_IRQ_INDEX)) > 0
          ? "msi"
          : "intx"
        : mode;
    const index = chosen === "msi" ? VFIO_PCI_MSI_IRQ_INDEX : VFIO_PCI_INTX_IRQ_INDEX;
    if ((await vectorsOf(device, index)) === 0) {
      throw new VfioError(
        "ENODEV",
        `${device.name}: the device has no ${chosen === "msi" ? "MSI" : "INTx"} interrupt`,
      );
    }
    const [vector] = await device.irqs.enable(index, { start: 0, count: 1 });
    if (vector === undefined) throw new VfioError("EIO", `${device.name}: no vector was enabled`);
    return new EduInterrupts(device, vector, chosen);
  }

  private constructor(device: DeviceHandle, vector: IrqVector, mode: "msi" | "intx") {
    this.#device = device;
    this.#vector = vector;
    this.mode = mode;
    this.#loop = this.#run();
  }

  get counts(): EduIrqCounts {
    return { ...this.#counts };
  }

  /** The enabled vector (its eventfd, totals and async iterator). */
  get vector(): IrqVector {
    return this.#vector;
  }

  /**
   * Resolves with the accumulated status once every bit of `bits` was seen by the
   * handler. Arm it before starting the work that raises them, so no interrupt is missed.
   */
  expect(bits: number, timeoutMs: number): Promise<number> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed || this.#vector.closed)
      return Promise.reject(new VfioError("ECANCELED", "edu interrupts are disabled"));
    return new Promise((resolve, reject) => {
      const w: Waiter = { remaining: bits >>> 0, seen: 0, resolve, reject, timer: undefined };
      if (timeoutMs > 0) {
        w.timer = setTimeout(() => {
          this.#waiters.delete(w);
          reject(
            new VfioError(
              "ETIMEDOUT",
              `edu: no interrupt with status 0x${bits.toString(16)} within ${timeoutMs} ms ` +
                `(${this.mode}, ${this.#counts.wakeups} wake-ups so far)`,
            ),
          );
        }, timeoutMs);
      }
      this.#waiters.add(w);
    });
  }

  /** Disables the vector at the device; pending waiters fail with ECANCELED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.#device.closed && this.#device.disconnectError === null) {
        await this.#device.irqs.disable(this.#vector.index);
      }
    } finally {
      this.#vector.close();
      await this.#loop;
      this.#failAll(new VfioError("ECANCELED", "edu interrupts were disabled while waiting"));
    }
  }

  async #run(): Promise<void> {
    try {
      for await (const triggers of this.#vector) {
        this.#counts.wakeups++;
        this.#counts.triggers += triggers;
        await this.#service();
      }
      // The iterator ends when the vector is closed: by us, or by the device handle
      // closing, resetting or losing its server. Nobody will be woken after this.
      this.#failed = new VfioError(
        "ECANCELED",
        `${this.#device.name}: the edu interrupt vector was disabled`,
      );
      this.#failAll(this.#failed);
    } catch (err) {
      // The device went away or refused an access: nobody will be woken any more.
      if (!this.#closed)
        debug("%s: interrupt handler stopped: %s", this.#device.name, (err as Error).message);
      this.#failed = err as Error;
      this.#failAll(err as Error);
    }
  }

  async #service(): Promise<void> {
    const status = await this.#device.read32(EDU_BAR, REG_IRQ_STATUS);
    if (status === 0) {
      this.#counts.spurious++;
    } else {
      await this.#device.write32(EDU_BAR, REG_IRQ_ACK, status);
      if (status & IRQ_FACTORIAL) this.#counts.factorial++;
      if (status & IRQ_DMA) this.#counts.dma++;
      if (status & ~(IRQ_FACTORIAL | IRQ_DMA)) this.#counts.raised++;
      for (const w of this.#waiters) {
        w.seen = (w.seen | status) >>> 0;
        w.remaining = (w.remaining & ~status) >>> 0;
        if (w.remaining !== 0) continue;
        this.#waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(w.seen);
      }
    }
    // INTx is automasked on delivery: the line is re-armed only once we are done with it.
    if (this.mode === "intx" && !this.#closed) await this.#vector.unmask();
  }

  #failAll(err: Error): void {
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.#waiters.clear();
  }
}

async function vectorsOf(device: DeviceHandle, index: number): Promise<number> {
  if (index >= device.info.numIrqs) return 0;
  return (await device.irqs.info(index)).count;
}
