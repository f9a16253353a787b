import { VfioError } from "../../errors.js";
import { irqIndexName } from "./irq-index.js";
import type { IrqDelivery, IrqNotifier } from "./notifier.js";
import type { IrqSetRequest } from "./set-irqs.js";

/**
 * A one-vector notification index (ERR or REQ): an eventfd the device signals, set
 * with SET_IRQS ACTION_TRIGGER only (vfio-pci semantics). Not device state: it is
 * kept across DEVICE_RESET and dropped with the client.
 */
export class SingleIrq {
  readonly index: number;
  #notifier: IrqNotifier | null = null;

  constructor(index: number) {
    this.index = index;
  }

  /** Applies a checked SET_IRQS; `wrap` turns a received fd into a notifier. */
  set(req: IrqSetRequest, disable: boolean, wrap: (fd: number) => IrqNotifier): void {
    if (disable) {
      this.close();
      return;
    }
    if (req.action !== "trigger") {
      throw new VfioError(
        "EINVAL",
        `SET_IRQS ${irqIndexName(this.index)}: only ACTION_TRIGGER is valid`,
      );
    }
    const { data } = req;
    if (data.kind === "eventfd") {
      this.close();
      if (data.fds.length === 1) this.#notifier = wrap(data.fds[0]!);
      return;
    }
    if (data.kind === "bool" && data.values[0] === 0) return;
    this.#notifier?.signal();
  }

  raise(): IrqDelivery {
    if (this.#notifier === null) return "dropped";
    this.#notifier.signal();
    return "delivered";
  }

  close(): void {
    this.#notifier?.close();
    this.#notifier = null;
  }
}
