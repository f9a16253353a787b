import type { IrqDelivery, IrqNotifier } from "./notifier.js";

/**
 * INTx as vfio-pci presents it (seed 003, vfio_pci_intrs.c): a level interrupt the
 * client sees through an eventfd, masked automatically each time it is signalled
 * (AUTOMASKED) so a still-asserted line cannot storm the client; the client unmasks
 * (its EOI) with SET_IRQS UNMASK, and if the line is still asserted then, it is
 * signalled and masked again.
 *
 * The device drives it two ways:
 * - `setLevel(true/false)`: a real level line, asserted until the device deasserts it.
 * - `pulse()`: "raise an interrupt" for devices that think in events. The pulse counts
 *   as asserted until the client's unmask that follows its delivery; a pulse raised
 *   while one is already in service is remembered (once) and delivered after it.
 *
 * `asserted` feeds PCI_STATUS_INTERRUPT: the status bit shows the line state whether
 * or not PCI_COMMAND_INTX_DISABLE is set, as on hardware; INTX_DISABLE only stops
 * delivery, which resumes when it is cleared while the line is still asserted.
 */
export class IntxLine {
  #notifier: IrqNotifier | null = null;
  #enabled = false;
  #masked = false;
  #level = false;
  #pulsePending = false;
  #inService = false;
  #commandDisabled = false;
  #onAssertedChange: ((asserted: boolean) => void) | undefined;
  #lastAsserted = false;

  /** `onAssertedChange` runs whenever `asserted` flips (to update the status bit). */
  constructor(onAssertedChange?: (asserted: boolean) => void) {
    this.#onAssertedChange = onAssertedChange;
  }

  /** True while the client has INTx enabled (SET_IRQS TRIGGER with an eventfd). */
  get enabled(): boolean {
    return this.#enabled;
  }

  get masked(): boolean {
    return this.#masked;
  }

  /** The line state the status register reports. */
  /** The level the device set with setLevel (pulses not included). */
  get level(): boolean {
    return this.#level;
  }

  get asserted(): boolean {
    return this.#level || this.#pulsePending || this.#inService;
  }

  /** Enables INTx with `notifier` (may be null: enabled, nowhere to signal yet). */
  enable(notifier: IrqNotifier | null): void {
    this.#replaceNotifier(notifier);
    if (!this.#enabled) {
      this.#enabled = true;
      this.#masked = false;
    }
    this.#tryDeliver();
  }

  /** Swaps the eventfd of an enabled line; the old one is closed. */
  setNotifier(notifier: IrqNotifier | null): void {
    this.#replaceNotifier(notifier);
    this.#tryDeliver();
  }

  /** Disables INTx for the client: closes the eventfd and forgets mask and pulses. */
  disable(): void {
    this.#replaceNotifier(null);
    this.#enabled = false;
    this.#masked = false;
    this.#pulsePending = false;
    this.#inService = false;
    this.#notify();
  }

  mask(): void {
    this.#masked = true;
  }

  /** The client's EOI: ends the pulse in service and re-delivers if still asserted. */
  unmask(): void {
    this.#masked = false;
    this.#inService = false;
    this.#tryDeliver();
    this.#notify();
  }

  /** Device level API. */
  setLevel(asserted: boolean): IrqDelivery {
    this.#level = asserted;
    const delivered = this.#tryDeliver();
    this.#notify();
    if (!asserted) return "dropped";
    return delivered ? "delivered" : this.#enabled ? "pending" : "dropped";
  }

  /** Device event API: one interrupt. Dropped when the client has not enabled INTx. */
  pulse(): IrqDelivery {
    if (!this.#enabled) return "dropped";
    this.#pulsePending = true;
    const delivered = this.#tryDeliver();
    this.#notify();
    return delivered ? "delivered" : "pending";
  }

  /** PCI_COMMAND_INTX_DISABLE changed. */
  setCommandDisabled(disabled: boolean): void {
    this.#commandDisabled = disabled;
    this.#tryDeliver();
  }

  /** SET_IRQS TRIGGER with DATA_NONE/BOOL: the client's loopback test of its eventfd. */
  loopback(): void {
    if (this.#enabled) this.#notifier?.signal();
  }

  /** Device reset: the line is deasserted and pulses are forgotten; client setup stays. */
  resetLine(): void {
    this.#level = false;
    this.#pulsePending = false;
    this.#inService = false;
    this.#masked = false;
    this.#notify();
  }

  #tryDeliver(): boolean {
    // Without an eventfd nothing can be delivered; the line stays pending until one arrives.
    if (!this.#enabled || this.#masked || this.#commandDisabled || this.#notifier === null) {
      return false;
    }
    if (!this.#level && !this.#pulsePending) return false;
    this.#masked = true;
    if (this.#pulsePending) {
      this.#pulsePending = false;
      this.#inService = true;
    }
    this.#notifier.signal();
    return true;
  }

  #replaceNotifier(notifier: IrqNotifier | null): void {
    if (this.#notifier !== null && this.#notifier !== notifier) this.#notifier.close();
    this.#notifier = notifier;
  }

  #notify(): void {
    const now = this.asserted;
    if (now !== this.#lastAsserted) {
      this.#lastAsserted = now;
      this.#onAssertedChange?.(now);
    }
  }
}
