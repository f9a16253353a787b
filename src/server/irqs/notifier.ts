/**
 * Where an interrupt goes: the eventfd a client passed with SET_IRQS. The IRQ state
 * machines only see this interface, so they stay pure and testable; the session wraps
 * each received fd in one (signal = eventfd write of 1, close = close the fd).
 * Whoever holds a notifier owns it and must close it when replacing or dropping it.
 */
export interface IrqNotifier {
  /** Raise the event (an eventfd write of 1). Must not throw. */
  signal(): void;
  /** Release the underlying descriptor. Idempotent. */
  close(): void;
}

/**
 * An eventfd the client signals towards the server (the INTx unmask "resample" fd):
 * `listen` arranges for `onSignal` to run after every signal until `close`.
 */
export interface IrqTrigger {
  listen(onSignal: () => void): void;
  close(): void;
}

/** What became of one interrupt the device raised. */
export type IrqDelivery =
  /** An eventfd was signalled. */
  | "delivered"
  /** The vector is masked: it is pending and will be delivered on unmask. */
  | "pending"
  /** Nobody listens (interrupt type not enabled or no eventfd for the vector). */
  | "dropped"
  /**
   * Bus mastering is off (PCI_COMMAND_MASTER clear): an MSI/MSI-X message is a memory
   * write, which the function may not issue, so it is not sent. It is not made pending
   * either: pending bits (the MSI-X PBA, MSI Pending Bits) record vectors held back by
   * a mask, and a vector that was pending already stays so until it can be sent.
   */
  | "blocked";
