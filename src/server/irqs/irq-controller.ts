import { VfioError } from "../../errors.js";
import {
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_REQ_IRQ_INDEX,
} from "../../protocol/index.js";
import type { MsixTable, MsixTableWriteResult } from "../msix-table.js";
import { IntxLine } from "./intx.js";
import { type IrqMode, irqIndexName } from "./irq-index.js";
import type { IrqDelivery, IrqNotifier, IrqTrigger } from "./notifier.js";
import { checkIrqSet, type IrqSetRequest } from "./set-irqs.js";
import { SingleIrq } from "./single-irq.js";
import { type VectorRegisters, VectorSet } from "./vectors.js";

/** What interrupts the device has, as declared by its author. */
export interface IrqCapabilities {
  /** PCI interrupt pin (1 = INTA# .. 4 = INTD#); 0 = no INTx. */
  readonly intxPin: number;
  /** Vectors of the MSI capability (1, 2, 4, ..., 32); 0 = no MSI. */
  readonly msiVectors: number;
  /** Entries of the MSI-X table; 0 = no MSI-X. */
  readonly msixVectors: number;
  /** The ERR index (AER notification) is offered. */
  readonly err: boolean;
  /** The REQ index (device release request) is offered. */
  readonly req: boolean;
}

/** Wraps descriptors received with SET_IRQS; the wrapper then owns the fd. */
export interface EventFdWrapper {
  notifier(fd: number): IrqNotifier;
  trigger(fd: number): IrqTrigger;
}

export interface IrqControllerOptions {
  readonly caps: IrqCapabilities;
  readonly eventfds: EventFdWrapper;
  /** Required when caps.msixVectors > 0. */
  readonly msixTable?: MsixTable;
  /** MSI mask/pending bits of the MSI capability; default: never masked, pending kept here. */
  readonly msiRegisters?: VectorRegisters;
  /** Called when the INTx line state flips (to mirror it in PCI_STATUS_INTERRUPT). */
  readonly onIntxAsserted?: (asserted: boolean) => void;
  /**
   * PCI_COMMAND_MASTER; default always set. MSI and MSI-X messages are memory writes,
   * which a function may not issue while it is clear (PCIe Base 7.5.1.1.3).
   */
  readonly busMaster?: () => boolean;
}

export interface IrqInfo {
  readonly flags: number;
  readonly count: number;
}

/**
 * All interrupt state of one device: which type the client enabled (INTx, MSI or
 * MSI-X, mutually exclusive as in vfio-pci), the eventfds of each vector, masks and
 * pending bits, and the ERR/REQ notifiers. SET_IRQS requests are validated in full
 * before anything changes, so a failed request leaves no trace and the caller still
 * owns its descriptors; a successful one hands every descriptor to this controller.
 */
export class IrqController {
  readonly caps: IrqCapabilities;
  readonly intx: IntxLine;
  readonly msi: VectorSet;
  readonly msix: VectorSet;
  readonly #eventfds: EventFdWrapper;
  readonly #table: MsixTable | undefined;
  #mode: IrqMode = "none";
  readonly #err = new SingleIrq(VFIO_PCI_ERR_IRQ_INDEX);
  readonly #req = new SingleIrq(VFIO_PCI_REQ_IRQ_INDEX);
  #intxUnmask: IrqTrigger | null = null;
  #functionMask = false;
  /**
   * QEMU emulates the MSI-X table itself and never writes ours, whose entries stay
   * masked from reset; honouring those bits would silence every vector. So table mask
   * bits count only once this client has written the table (a client that programs
   * the device's table, like our driver SDK, owns masking through it).
   */
  #tableInUse = false;

  constructor(options: IrqControllerOptions) {
    this.caps = options.caps;
    this.#eventfds = options.eventfds;
    this.#table = options.msixTable;
    if (options.caps.msixVectors > 0 && this.#table?.vectors !== options.caps.msixVectors) {
      throw new VfioError("EINVAL", "MSI-X vectors declared without a matching MSI-X table");
    }
    this.intx = new IntxLine(options.onIntxAsserted);
    const canSend = options.busMaster ?? (() => true);
    this.msi = new VectorSet(
      options.caps.msiVectors,
      options.msiRegisters ?? localRegisters(),
      canSend,
    );
    const table = this.#table;
    this.msix = new VectorSet(
      options.caps.msixVectors,
      table === undefined
        ? localRegisters()
        : {
            isMasked: (v) => this.#functionMask || (this.#tableInUse && table.isMasked(v)),
            isPending: (v) => table.isPending(v),
            setPending: (v, p) => table.setPending(v, p),
          },
      canSend,
    );
  }

  /** The interrupt type the client has enabled. */
  get mode(): IrqMode {
    return this.#mode;
  }

  /** How many vectors IRQ index `index` has on this device. */
  capacity(index: number): number {
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        return this.caps.intxPin !== 0 ? 1 : 0;
      case VFIO_PCI_MSI_IRQ_INDEX:
        return this.caps.msiVectors;
      case VFIO_PCI_MSIX_IRQ_INDEX:
        return this.caps.msixVectors;
      case VFIO_PCI_ERR_IRQ_INDEX:
        return this.caps.err ? 1 : 0;
      case VFIO_PCI_REQ_IRQ_INDEX:
        return this.caps.req ? 1 : 0;
      default:
        return 0;
    }
  }

  /**
   * GET_IRQ_INFO for `index`. INTx is MASKABLE|AUTOMASKED as in vfio-pci. MSI and MSI-X
   * are MASKABLE (SET_IRQS MASK/UNMASK work per vector) and resizable: vectors can be
   * added while enabled, which QEMU relies on when it splits a SET_IRQS into chunks of
   * max_msg_fds eventfds. ERR and REQ have a single vector (NORESIZE).
   */
  info(index: number): IrqInfo {
    if (!Number.isInteger(index) || index < 0 || index >= VFIO_PCI_NUM_IRQS) {
      throw new VfioError(
        "EINVAL",
        `IRQ index ${index} does not exist (0..${VFIO_PCI_NUM_IRQS - 1})`,
      );
    }
    // An ERR index the device does not offer is EINVAL, as vfio-pci answers for a
    // non-PCIe device: QEMU warns "Could not enable error recovery" when the query
    // succeeds with a count other than 1, but takes EINVAL quietly.
    if (index === VFIO_PCI_ERR_IRQ_INDEX && !this.caps.err) {
      throw new VfioError("EINVAL", "IRQ index 3 (ERR) is not offered by this device");
    }
    let flags = VFIO_IRQ_INFO_EVENTFD;
    if (index === VFIO_PCI_INTX_IRQ_INDEX)
      flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    else if (index === VFIO_PCI_MSI_IRQ_INDEX || index === VFIO_PCI_MSIX_IRQ_INDEX) {
      flags |= VFIO_IRQ_INFO_MASKABLE;
    } else flags |= VFIO_IRQ_INFO_NORESIZE;
    return { flags, count: this.capacity(index) };
  }

  /**
   * Applies one SET_IRQS. Throws VfioError (nothing changed, caller keeps the fds) or
   * returns having taken ownership of every fd in the request.
   */
  setIrqs(req: IrqSetRequest): void {
    if (!Number.isInteger(req.index) || req.index < 0 || req.index >= VFIO_PCI_NUM_IRQS) {
      throw new VfioError("EINVAL", `SET_IRQS: IRQ index ${req.index} does not exist`);
    }
    const fds = req.data.kind === "eventfd" ? req.data.fds.length : 0;
    const disable = checkIrqSet(req, this.capacity(req.index), fds);
    switch (req.index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        if (disable) this.#disableMode("intx");
        else this.#setIntx(req);
        break;
      case VFIO_PCI_MSI_IRQ_INDEX:
        if (disable) this.#disableMode("msi");
        else this.#setVectors(req, "msi");
        break;
      case VFIO_PCI_MSIX_IRQ_INDEX:
        if (disable) this.#disableMode("msix");
        else this.#setVectors(req, "msix");
        break;
      default:
        (req.index === VFIO_PCI_ERR_IRQ_INDEX ? this.#err : this.#req).set(req, disable, (fd) =>
          this.#eventfds.notifier(fd),
        );
    }
  }

  /**
   * The device raises an interrupt on whatever type the client enabled: MSI-X or MSI
   * vector `vector`, or (vector 0) an INTx pulse. Vectors the client did not enable
   * are dropped; a vector beyond the device's capability is a programming error.
   */
  trigger(vector = 0): IrqDelivery {
    switch (this.#mode) {
      case "msix":
        this.#checkVector(vector, this.caps.msixVectors, "MSI-X");
        return this.msix.trigger(vector);
      case "msi":
        this.#checkVector(vector, this.caps.msiVectors, "MSI");
        return this.msi.trigger(vector);
      case "intx":
        return vector === 0 ? this.intx.pulse() : "dropped";
      default:
        return "dropped";
    }
  }

  /** Signals the ERR eventfd (the client's AER notification). */
  raiseErr(): IrqDelivery {
    return this.#err.raise();
  }

  /** Signals the REQ eventfd: asks the client to release the device. */
  raiseReq(): IrqDelivery {
    return this.#req.raise();
  }

  /** PCI_COMMAND_INTX_DISABLE changed in config space. */
  setIntxDisabled(disabled: boolean): void {
    this.intx.setCommandDisabled(disabled);
  }

  /** The MSI-X function mask (Message Control bit 14) changed in config space. */
  setMsixFunctionMask(masked: boolean): void {
    if (this.#functionMask === masked) return;
    this.#functionMask = masked;
    if (!masked && this.#mode === "msix") this.msix.deliverPending();
  }

  /** The client wrote the MSI-X table: from now on its mask bits count. */
  msixTableWritten(result: MsixTableWriteResult): void {
    this.#tableInUse = true;
    if (this.#mode !== "msix") return;
    for (const v of result.unmasked) this.msix.deliverPending(v, 1);
  }

  /** PCI_COMMAND_MASTER was set: send what stayed pending while messages could not go out. */
  busMasterEnabled(): void {
    if (this.#mode === "msi") this.msi.deliverPending();
    else if (this.#mode === "msix") this.msix.deliverPending();
  }

  /** MSI mask bits changed in config space: deliver what became unmasked. */
  msiMaskChanged(): void {
    if (this.#mode === "msi") this.msi.deliverPending();
  }

  /** True when MSI-X vector `v` is masked by any means (function, table, client). */
  isMsixMasked(vector: number): boolean {
    return this.msix.isMasked(vector);
  }

  /**
   * The client went away: close every eventfd and forget what it configured. Device
   * state (MSI-X table, PBA, the INTx line level) stays, as the spec asks.
   */
  detachClient(): void {
    this.#disableAll();
    this.#err.close();
    this.#req.close();
    this.#tableInUse = false;
  }

  /**
   * DEVICE_RESET: interrupts are torn down as on a function reset (MSI/MSI-X/INTx
   * disabled, table and PBA back to reset values, the line deasserted). ERR and REQ
   * notifiers are not device state and stay.
   */
  resetDevice(): void {
    this.#disableAll();
    this.#table?.reset();
    this.intx.resetLine();
    this.#functionMask = false;
  }

  #disableAll(): void {
    this.#disableMode(this.#mode);
    this.intx.disable();
    this.msi.clear();
    this.msix.clear();
  }

  #disableMode(mode: IrqMode): void {
    if (mode === "none" || this.#mode !== mode) return; // disabling what is off is a no-op
    if (mode === "intx") {
      this.intx.disable();
      this.#intxUnmask?.close();
      this.#intxUnmask = null;
    } else if (mode === "msi") {
      this.msi.clear();
    } else {
      this.msix.clear();
      this.#table?.clearAllPending();
    }
    this.#mode = "none";
  }

  #setIntx(req: IrqSetRequest): void {
    const { action, data } = req;
    if (action === "trigger") {
      if (data.kind === "eventfd") {
        this.#requireModeFree("intx");
        if (data.fds.length === 0) {
          if (this.#mode === "intx") this.intx.setNotifier(null);
          return;
        }
        const n = this.#eventfds.notifier(data.fds[0]!);
        if (this.#mode === "intx") this.intx.setNotifier(n);
        else {
          this.#mode = "intx";
          this.intx.enable(n);
        }
        return;
      }
      this.#requireMode("intx", req);
      if (data.kind === "none" || data.values[0] !== 0) this.intx.loopback();
      return;
    }
    this.#requireMode("intx", req);
    if (data.kind === "eventfd") {
      if (action === "mask") {
        throw new VfioError("EOPNOTSUPP", "SET_IRQS INTx: a mask eventfd is not supported");
      }
      // The unmask ("resample") eventfd: the client signals it to unmask, saving a message.
      this.#intxUnmask?.close();
      this.#intxUnmask = null;
      if (data.fds.length === 1) {
        const t = this.#eventfds.trigger(data.fds[0]!);
        this.#intxUnmask = t;
        t.listen(() => this.intx.unmask());
      }
      return;
    }
    if (data.kind === "bool" && data.values[0] === 0) return;
    if (action === "mask") this.intx.mask();
    else this.intx.unmask();
  }

  #setVectors(req: IrqSetRequest, mode: "msi" | "msix"): void {
    const set = mode === "msi" ? this.msi : this.msix;
    const { action, data, start, count } = req;
    if (action === "trigger" && data.kind === "eventfd") {
      this.#requireModeFree(mode);
      if (data.fds.length === 0) {
        // Eventfds of -1, sent as a chunk without descriptors: de-assign those vectors.
        // While the type is off, this is how QEMU enables MSI-X with no vector in use
        // (vfio_enable_msix_no_vec): the type goes on, so the per-vector MASK/UNMASK
        // and eventfds that follow find it enabled, as the kernel's vfio-pci does.
        if (this.#mode === mode) set.deassign(start, count);
        else this.#mode = mode;
        return;
      }
      this.#mode = mode;
      set.assign(
        start,
        data.fds.map((fd) => this.#eventfds.notifier(fd)),
      );
      return;
    }
    this.#requireMode(mode, req);
    if (data.kind === "eventfd") {
      throw new VfioError(
        "EOPNOTSUPP",
        `SET_IRQS ${irqIndexName(req.index)}: ${action} eventfds are not supported`,
      );
    }
    const which = data.kind === "bool" ? data.values : undefined;
    if (action === "trigger") set.loopback(start, count, which);
    else set.setClientMask(start, count, action === "mask", which);
  }

  /** Enabling `mode` is refused while another type is enabled (vfio-pci: EINVAL). */
  #requireModeFree(mode: IrqMode): void {
    if (this.#mode !== "none" && this.#mode !== mode) {
      throw new VfioError(
        "EINVAL",
        `SET_IRQS: cannot use ${modeName(mode)} while ${modeName(this.#mode)} is enabled; disable it first`,
      );
    }
  }

  #requireMode(mode: IrqMode, req: IrqSetRequest): void {
    if (this.#mode !== mode) {
      throw new VfioError(
        "EINVAL",
        `SET_IRQS ${irqIndexName(req.index)}: ${req.action} needs ${modeName(mode)} enabled (it is ${modeName(this.#mode)})`,
      );
    }
  }

  #checkVector(vector: number, capacity: number, what: string): void {
    if (!Number.isInteger(vector) || vector < 0 || vector >= capacity) {
      throw new VfioError("EINVAL", `${what} vector ${vector} is outside 0..${capacity - 1}`);
    }
  }
}

function modeName(mode: IrqMode): string {
  return mode === "none"
    ? "no interrupt type"
    : irqIndexName(["none", "intx", "msi", "msix"].indexOf(mode) - 1);
}

/** MSI without per-vector masking in config: never masked; pending bits live here. */
function localRegisters(): VectorRegisters {
  const pending = new Set<number>();
  return {
    isMasked: () => false,
    isPending: (v) => pending.has(v),
    setPending: (v, p) => {
      if (p) pending.add(v);
      else pending.delete(v);
    },
  };
}
