import type { IrqDelivery, IrqNotifier } from "./notifier.js";

/**
 * The device-side registers behind a set of message-signalled vectors: MSI's mask and
 * pending bits in config space, or MSI-X's table mask bits, function mask and PBA.
 */
export interface VectorRegisters {
  /** Masked by the device's own registers. */
  isMasked(vector: number): boolean;
  isPending(vector: number): boolean;
  setPending(vector: number, pending: boolean): void;
}

/**
 * MSI or MSI-X vectors as a client configures them with SET_IRQS: one eventfd per
 * vector plus a per-vector mask the client sets with ACTION_MASK/UNMASK. A vector is
 * masked if either that client mask or the device registers say so; an interrupt
 * raised while masked sets the pending bit and is delivered, and the bit cleared, as
 * soon as the vector is unmasked and has an eventfd.
 *
 * `canSend` is the bus-master gate: while it says no, an unmasked vector is not sent
 * ("blocked") and a pending one stays pending. A fresh vector is not made pending by
 * it: the pending bits are defined for masking only (PCI 3.0 6.8.2.9 for MSI, 6.8.2.10
 * for the MSI-X PBA), and the PCIe spec has BME=0 disable the messages outright. The
 * device knows from the "blocked" result and keeps its own interrupt status, as
 * hardware does (a driver that re-enables bus mastering re-checks it). QEMU behaves
 * the same: msi_send_message writes through the bus-master address space, which is
 * disabled while the bit is clear, and the message is lost.
 */
export class VectorSet {
  readonly capacity: number;
  readonly #regs: VectorRegisters;
  readonly #notifiers: (IrqNotifier | null)[];
  readonly #clientMask: Uint8Array;
  readonly #canSend: () => boolean;

  constructor(capacity: number, regs: VectorRegisters, canSend: () => boolean = () => true) {
    this.capacity = capacity;
    this.#regs = regs;
    this.#canSend = canSend;
    this.#notifiers = new Array<IrqNotifier | null>(capacity).fill(null);
    this.#clientMask = new Uint8Array(capacity);
  }

  isMasked(vector: number): boolean {
    return this.#clientMask[vector] === 1 || this.#regs.isMasked(vector);
  }

  /** Installs eventfds for [start, start+notifiers.length); replaced ones are closed. */
  assign(start: number, notifiers: readonly IrqNotifier[]): void {
    for (let i = 0; i < notifiers.length; i++) this.#put(start + i, notifiers[i]!);
    this.deliverPending(start, notifiers.length);
  }

  /** Removes (and closes) the eventfds of [start, start+count). */
  deassign(start: number, count: number): void {
    for (let v = start; v < start + count; v++) this.#put(v, null);
  }

  /** ACTION_MASK/UNMASK from the client for the vectors of the range selected by `which`. */
  setClientMask(start: number, count: number, masked: boolean, which?: Uint8Array): void {
    for (let i = 0; i < count; i++) {
      if (which !== undefined && which[i] === 0) continue;
      this.#clientMask[start + i] = masked ? 1 : 0;
    }
    if (!masked) this.deliverPending(start, count);
  }

  /** ACTION_TRIGGER with DATA_NONE/BOOL: the client fires its own eventfds (a loopback test). */
  loopback(start: number, count: number, which?: Uint8Array): void {
    for (let i = 0; i < count; i++) {
      if (which !== undefined && which[i] === 0) continue;
      this.#notifiers[start + i]?.signal();
    }
  }

  /** The device raises `vector` (callers check it is below `capacity`). */
  trigger(vector: number): IrqDelivery {
    if (this.isMasked(vector)) {
      this.#regs.setPending(vector, true);
      return "pending";
    }
    if (!this.#canSend()) return "blocked";
    const n = this.#notifiers[vector];
    if (n == null) return "dropped";
    n.signal();
    return "delivered";
  }

  /**
   * Delivers every pending vector of [start, start+count) that is now unmasked and has
   * an eventfd. Call after anything that may unmask: client unmask, a table or
   * config write, a function-mask change, a new eventfd.
   */
  deliverPending(start = 0, count = this.capacity): void {
    if (!this.#canSend()) return;
    const end = Math.min(this.capacity, start + count);
    for (let v = start; v < end; v++) {
      if (!this.#regs.isPending(v) || this.isMasked(v)) continue;
      const n = this.#notifiers[v];
      if (n == null) continue;
      this.#regs.setPending(v, false);
      n.signal();
    }
  }

  /** Client tear-down: closes every eventfd and forgets client masks. */
  clear(): void {
    for (let v = 0; v < this.capacity; v++) this.#put(v, null);
    this.#clientMask.fill(0);
  }

  #put(vector: number, notifier: IrqNotifier | null): void {
    const old = this.#notifiers[vector];
    if (old != null && old !== notifier) old.close();
    this.#notifiers[vector] = notifier;
  }
}
