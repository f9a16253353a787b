/**
 * How the driver learns of completions: MSI-X with one vector per completion queue
 * (the admin queue on vector 0), MSI or INTx with one vector shared by every queue,
 * or polling the completion rings' phase tags with no interrupt at all. Whatever the
 * mode, a wake-up reaps the queues bound to that vector; INTx is automasked by VFIO on
 * delivery and re-armed only after the doorbells have acknowledged what was reaped.
 */
import { debuglog } from "node:util";
import {
  type DeviceHandle,
  type IrqVector,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
} from "../../client/index.js";
import { VfioError } from "../../errors.js";
import { PCI_COMMAND_INTX_DISABLE } from "../../pci/regs.js";
import type { QueuePair } from "./queue-pair.js";

const debug = debuglog("nvme-driver");

/** "auto": MSI-X, else MSI, else INTx, else polling. */
export type NvmeIrqMode = "auto" | "msix" | "msi" | "intx" | "poll";

/** Polls that find nothing before the poller sleeps between polls. */
const BUSY_POLLS = 64;

export class CompletionIrqs {
  readonly mode: "msix" | "msi" | "intx" | "poll";
  readonly #device: DeviceHandle;
  readonly #vectors: IrqVector[];
  /** Queues reaped on each vector's wake-up (index = vector); all of them when polling. */
  readonly #queues: QueuePair[][];
  readonly #loops: Promise<void>[] = [];
  #polling = false;
  #closed = false;
  #wakeups = 0;

  /**
   * Enables the interrupt of `mode` with up to `wanted` vectors (one per completion
   * queue, the admin queue included). The device may give fewer: queues then share.
   */
  static async enable(
    device: DeviceHandle,
    mode: NvmeIrqMode,
    wanted: number,
  ): Promise<CompletionIrqs> {
    const chosen = mode === "auto" ? await autoMode(device) : mode;
    if (chosen === "poll") return new CompletionIrqs(device, "poll", []);
    const index =
      chosen === "msix"
        ? VFIO_PCI_MSIX_IRQ_INDEX
        : chosen === "msi"
          ? VFIO_PCI_MSI_IRQ_INDEX
          : VFIO_PCI_INTX_IRQ_INDEX;
    const available = await vectorsOf(device, index);
    if (available === 0) {
      throw new VfioError(
        "ENODEV",
        `${device.name}: the device has no ${chosen.toUpperCase()} interrupt`,
      );
    }
    // INTx needs DisINTx clear; MSI and MSI-X do not care, so it is left as it is for them.
    if (chosen === "intx") await device.config.updateCommand(0, PCI_COMMAND_INTX_DISABLE);
    const count = chosen === "intx" ? 1 : Math.max(1, Math.min(available, wanted));
    const vectors = await device.irqs.enable(index, { start: 0, count });
    return new CompletionIrqs(device, chosen, vectors);
  }

  private constructor(device: DeviceHandle, mode: CompletionIrqs["mode"], vectors: IrqVector[]) {
    this.#device = device;
    this.mode = mode;
    this.#vectors = vectors;
    this.#queues = mode === "poll" ? [[]] : vectors.map(() => []);
    for (const v of vectors) this.#loops.push(this.#serve(v));
  }

  /** Vectors in use (0 when polling). */
  get vectorCount(): number {
    return this.#vectors.length;
  }

  /** Interrupt wake-ups (or, when polling, polls that found completions). */
  get wakeups(): number {
    return this.#wakeups;
  }

  /**
   * The interrupt vector the completion queue `qid` should raise (the IV of Create I/O
   * CQ), or null when polling. Queues beyond the vectors share them round robin.
   */
  vectorFor(qid: number): number | null {
    if (this.mode === "poll") return null;
    return qid % this.#vectors.length;
  }

  /** Starts reaping `queue` on its vector's wake-ups (or in the poller). */
  attach(queue: QueuePair): void {
    const v = this.vectorFor(queue.qid) ?? 0;
    this.#queues[v]!.push(queue);
  }

  detach(queue: QueuePair): void {
    for (const list of this.#queues) {
      const i = list.indexOf(queue);
      if (i >= 0) list.splice(i, 1);
    }
  }

  /** A command was submitted: in polled mode, make sure the poller runs. */
  kick(): void {
    if (this.mode !== "poll" || this.#polling || this.#closed) return;
    this.#polling = true;
    void this.#poll();
  }

  /** Disables the interrupt at the device and stops reaping. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#vectors.length > 0) {
      const index = this.#vectors[0]!.index;
      try {
        if (!this.#device.closed && this.#device.disconnectError === null) {
          await this.#device.irqs.disable(index);
        }
      } finally {
        for (const v of this.#vectors) v.close();
        await Promise.allSettled(this.#loops);
      }
    }
  }

  async #serve(vector: IrqVector): Promise<void> {
    const queues = this.#queues[vector.vector]!;
    try {
      for await (const _ of vector) {
        this.#wakeups++;
        for (const q of queues) q.reap();
        // INTx stays masked from delivery until we say we are done with it.
        if (this.mode === "intx" && !this.#closed) await vector.unmask();
      }
    } catch (err) {
      if (!this.#closed) {
        debug("%s: %s handler stopped: %s", this.#device.name, vector.name, (err as Error).message);
        for (const q of queues) q.fail(err as Error);
      }
    }
  }

  async #poll(): Promise<void> {
    let idle = 0;
    try {
      while (!this.#closed) {
        const queues = this.#queues[0]!;
        let reaped = 0;
        let outstanding = 0;
        for (const q of queues) {
          reaped += q.reap();
          outstanding += q.outstanding;
        }
        if (reaped > 0) {
          this.#wakeups++;
          idle = 0;
        }
        if (outstanding === 0) return;
        // Spin on the event loop for a while (completions are often quick), then sleep
        // a millisecond between polls so a slow controller does not cost a whole CPU.
        if (++idle < BUSY_POLLS) await new Promise<void>((r) => setImmediate(r));
        else await new Promise<void>((r) => setTimeout(r, 1));
      }
    } finally {
      this.#polling = false;
    }
  }
}

async function vectorsOf(device: DeviceHandle, index: number): Promise<number> {
  if (index >= device.info.numIrqs) return 0;
  try {
    return (await device.irqs.info(index)).count;
  } catch {
    return 0;
  }
}

async function autoMode(device: DeviceHandle): Promise<"msix" | "msi" | "intx" | "poll"> {
  if ((await vectorsOf(device, VFIO_PCI_MSIX_IRQ_INDEX)) > 0) return "msix";
  if ((await vectorsOf(device, VFIO_PCI_MSI_IRQ_INDEX)) > 0) return "msi";
  if ((await vectorsOf(device, VFIO_PCI_INTX_IRQ_INDEX)) > 0) return "intx";
  return "poll";
}
