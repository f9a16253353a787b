import { debuglog } from "node:util";
import { VfioError } from "../errors.js";
import { EventFd } from "../sys/index.js";
import type { DeviceBackend, IrqInfo } from "./backend.js";
import { checkIrqInfo } from "./info-checks.js";
import { type IrqControl, type IrqEvent, IrqVector } from "./irq-vector.js";
import {
  irqIndexName,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_MSIX_IRQ_INDEX,
} from "./vfio-abi.js";

const debug = debuglog("vfio-client");

/** Which vectors `DeviceIrqs.enable` turns on. */
export interface EnableIrqOptions {
  /** First sub-index (vector) to enable; default 0. */
  start?: number;
  /** Number of vectors; default all the index has from `start`. */
  count?: number;
}

/**
 * The interrupt side of a device: VFIO_DEVICE_GET_IRQ_INFO and VFIO_DEVICE_SET_IRQS
 * with eventfds this client creates. INTx, MSI and MSI-X are mutually exclusive, as
 * vfio-pci enforces; the check here gives the driver a clear error before the device
 * would refuse with a bare EINVAL.
 */
export class DeviceIrqs implements IrqControl {
  readonly #backend: DeviceBackend;
  readonly #numIrqs: number;
  readonly #onFire: (ev: IrqEvent) => void;
  readonly #info = new Map<number, Promise<IrqInfo>>();
  readonly #vectors = new Map<number, Map<number, IrqVector>>();

  constructor(backend: DeviceBackend, numIrqs: number, onFire: (ev: IrqEvent) => void) {
    this.#backend = backend;
    this.#numIrqs = numIrqs;
    this.#onFire = onFire;
  }

  /** VFIO_DEVICE_GET_IRQ_INFO for `index`, checked and cached. */
  info(index: number): Promise<IrqInfo> {
    if (!Number.isInteger(index) || index < 0 || index >= this.#numIrqs) {
      return Promise.reject(
        new VfioError(
          "EINVAL",
          `IRQ index ${index} does not exist (the device has ${this.#numIrqs})`,
        ),
      );
    }
    let p = this.#info.get(index);
    if (p === undefined) {
      p = this.#backend.getIrqInfo(index).then((info) => checkIrqInfo(index, info));
      this.#info.set(index, p);
      p.catch(() => this.#info.delete(index));
    }
    return p;
  }

  /** Enabled vectors of `index`, by sub-index. */
  vectors(index: number): IrqVector[] {
    return Array.from(this.#vectors.get(index)?.values() ?? []).sort((a, b) => a.vector - b.vector);
  }

  /** The enabled vector `vector` of IRQ index `index`, if it is enabled. */
  vector(index: number, vector: number): IrqVector | undefined {
    return this.#vectors.get(index)?.get(vector);
  }

  /** Indexes that currently have vectors enabled. */
  enabledIndexes(): number[] {
    return Array.from(this.#vectors.keys()).sort((a, b) => a - b);
  }

  /**
   * Enables vectors [start, start+count) of `index` with fresh eventfds
   * (DATA_EVENTFD | ACTION_TRIGGER). Vectors already enabled in that range get new
   * eventfds. Requests are split to respect the device's max_msg_fds.
   */
  async enable(index: number, options: EnableIrqOptions = {}): Promise<IrqVector[]> {
    const info = await this.info(index);
    const name = irqIndexName(index);
    if ((info.flags & VFIO_IRQ_INFO_EVENTFD) === 0) {
      throw new VfioError("EINVAL", `${name} does not support eventfd signalling`);
    }
    const start = options.start ?? 0;
    const count = options.count ?? info.count - start;
    if (!vectorRange(start, count, info.count)) {
      throw new VfioError(
        "EINVAL",
        `${name}: cannot enable vectors [${start}, ${start + count}) of the ${info.count} it has`,
      );
    }
    if (index <= VFIO_PCI_MSIX_IRQ_INDEX) {
      for (const other of this.enabledIndexes()) {
        if (other !== index && other <= VFIO_PCI_MSIX_IRQ_INDEX) {
          throw new VfioError(
            "EBUSY",
            `${name} cannot be enabled while ${irqIndexName(other)} is enabled; disable it first`,
          );
        }
      }
    }
    const maxFds = Math.max(1, this.#backend.limits.maxMsgFds);
    const noResize = (info.flags & VFIO_IRQ_INFO_NORESIZE) !== 0;
    if (count > maxFds && noResize) {
      throw new VfioError(
        "E2BIG",
        `${name}: enabling ${count} vectors needs one message with ${count} eventfds, but the ` +
          `device accepts ${maxFds} fds per message (max_msg_fds) and cannot grow the set (NORESIZE)`,
      );
    }
    const fresh = !this.#vectors.has(index);
    const efds: EventFd[] = [];
    try {
      for (let i = 0; i < count; i++) efds.push(EventFd.create());
    } catch (err) {
      for (const e of efds) e.close();
      throw err;
    }
    let sent = 0;
    try {
      while (sent < count) {
        const n = Math.min(maxFds, count - sent);
        await this.#backend.setIrqs({
          flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
          index,
          start: start + sent,
          count: n,
          fds: efds.slice(sent, sent + n).map((e) => e.fd),
        });
        sent += n;
      }
    } catch (err) {
      for (const e of efds) e.close();
      if (fresh && sent > 0) await this.#sendDisable(index);
      throw err;
    }
    let byVector = this.#vectors.get(index);
    if (byVector === undefined) {
      byVector = new Map();
      this.#vectors.set(index, byVector);
    }
    const out: IrqVector[] = [];
    for (let i = 0; i < count; i++) {
      const v = start + i;
      byVector.get(v)?.close();
      const vec = new IrqVector(index, v, efds[i]!, this, this.#onFire);
      byVector.set(v, vec);
      out.push(vec);
    }
    return out;
  }

  /** Masks vectors [start, start+count) (DATA_NONE | ACTION_MASK). */
  mask(index: number, start = 0, count = 1): Promise<void> {
    return this.#action(index, VFIO_IRQ_SET_ACTION_MASK, start, count);
  }

  /** Unmasks them; after an INTx interrupt this re-arms the line (it is automasked). */
  unmask(index: number, start = 0, count = 1): Promise<void> {
    return this.#action(index, VFIO_IRQ_SET_ACTION_UNMASK, start, count);
  }

  /** Fires them from the driver side (DATA_NONE | ACTION_TRIGGER), e.g. for self-tests. */
  trigger(index: number, start = 0, count = 1): Promise<void> {
    return this.#action(index, VFIO_IRQ_SET_ACTION_TRIGGER, start, count);
  }

  /** Disables every vector of `index` (DATA_NONE | ACTION_TRIGGER, count 0) and closes their eventfds. */
  async disable(index: number): Promise<void> {
    await this.info(index);
    try {
      await this.#backend.setIrqs({
        flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
        index,
        start: 0,
        count: 0,
      });
    } finally {
      this.closeLocal(index);
    }
  }

  /** Disables every enabled index; errors are traced (used by reset and close). */
  async disableAll(): Promise<void> {
    for (const index of this.enabledIndexes()) {
      await this.#sendDisable(index);
      this.closeLocal(index);
    }
  }

  /** Closes our eventfds of `index` (or of every index) without telling the device. */
  closeLocal(index?: number): void {
    const indexes = index === undefined ? this.enabledIndexes() : [index];
    for (const i of indexes) {
      for (const v of this.#vectors.get(i)?.values() ?? []) v.close();
      this.#vectors.delete(i);
    }
  }

  async #action(index: number, action: number, start: number, count: number): Promise<void> {
    const info = await this.info(index);
    if (!vectorRange(start, count, info.count)) {
      throw new VfioError(
        "EINVAL",
        `${irqIndexName(index)}: vectors [${start}, ${start + count}) are outside the ${info.count} it has`,
      );
    }
    await this.#backend.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | action, index, start, count });
  }

  async #sendDisable(index: number): Promise<void> {
    try {
      await this.#backend.setIrqs({
        flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
        index,
        start: 0,
        count: 0,
      });
    } catch (err) {
      debug("disabling %s failed: %s", irqIndexName(index), (err as Error).message);
    }
  }
}

/** Whether [start, start+count) is a non-empty range of whole vectors inside `total`. */
function vectorRange(start: number, count: number, total: number): boolean {
  return (
    Number.isInteger(start) &&
    Number.isInteger(count) &&
    start >= 0 &&
    count >= 1 &&
    start + count <= total
  );
}
