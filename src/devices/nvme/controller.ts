/**
 * An NVMe controller on the device SDK: BAR0 registers and doorbells, the controller
 * state machine (enable, disable, shutdown, fatal status, reset), queue fetching, and
 * interrupts. Commands are in admin.ts and io.ts, data pointers in prp.ts, storage in
 * backing.ts.
 *
 * Doorbells come as posted REGION_WRITEs. The write handler only records the new tail
 * and starts the queue's fetch loop as a device task (`dev.tasks`), so it returns at
 * once: the connection goes on reading doorbells while commands wait on DMA messages
 * or file I/O, and I/O commands run concurrently.
 */
import type { DeviceContext, DeviceDefinition } from "../../server/index.js";
import { adminCommand } from "./admin.js";
import { AsyncEvents } from "./async-events.js";
import type { BackingStore } from "./backing.js";
import { decodeSqe, type Sqe } from "./entries.js";
import { Features } from "./features.js";
import type { ControllerIdentity } from "./identify.js";
import { ioCommand } from "./io.js";
import { ErrorLog, HealthCounters } from "./log-pages.js";
import { nvmeMigration } from "./migration.js";
import type { RegisterState } from "./migration-state.js";
import { Namespace } from "./namespace.js";
import { type ListReader, prpSegments } from "./prp.js";
import { CompletionQueue, type QueueHost, SubmissionQueue } from "./queues.js";
import * as R from "./regs.js";
import { CommandStatus, type Completion, Status } from "./status.js";

/** Options of the NVMe controller model: its storage, block size, identity and limits. */
export interface NvmeOptions {
  /** The namespace's storage (one namespace, NSID 1). */
  readonly backing: BackingStore;
  /** 512 (default) or 4096. */
  readonly blockSize?: number;
  readonly serial?: string;
  readonly model?: string;
  /** I/O queue pairs the controller offers (default 16, at most 64). */
  readonly maxIoQueues?: number;
  /** MDTS: largest transfer 2^mdts pages (default 5: 128 KiB). */
  readonly mdts?: number;
}

/** SQ entries read from host memory at once. */
const FETCH_BATCH = 64;

/**
 * An NVMe controller model on the device SDK: registers, admin and I/O queues in the client's
 * memory, PRP transfers by DMA, one namespace on a BackingStore.
 */
export class NvmeController implements QueueHost {
  readonly identity: ControllerIdentity;
  readonly namespaces: ReadonlyMap<number, Namespace>;
  readonly features: Features;
  readonly errors: ErrorLog;
  readonly health = new HealthCounters();
  readonly events: AsyncEvents;
  readonly maxIoQueues: number;
  readonly maxTransfer: number;
  readonly definition: DeviceDefinition;
  #dev: DeviceContext | undefined;
  readonly sqs = new Map<number, SubmissionQueue>();
  readonly cqs = new Map<number, CompletionQueue>();
  #cc = 0;
  #csts = 0;
  #aqa = 0;
  #asq = 0n;
  #acq = 0n;
  #intms = 0;
  /** Enabled and not fatal: queues are fetched. */
  #running = false;
  /** A disable is draining commands; RDY clears when it is done. */
  #disabling = false;
  /** Stopped for migration: nothing more is fetched until resume(). */
  #paused = false;
  #ioInflight = 0;
  #ioIdle: (() => void)[] = [];

  constructor(o: NvmeOptions) {
    this.maxIoQueues = Math.min(64, Math.max(1, o.maxIoQueues ?? 16));
    const mdts = o.mdts ?? 5;
    this.maxTransfer = R.PAGE_SIZE * 2 ** mdts;
    this.identity = {
      vendorId: 0x1b36,
      serial: o.serial ?? "VFIOTS0001",
      model: o.model ?? "vfio-ts NVMe",
      firmware: "1.0",
      mdts,
      namespaces: 1,
      abortLimit: 4,
      aerLimit: 4,
      errorLogEntries: 4,
    };
    this.namespaces = new Map([[1, new Namespace(1, o.backing, o.blockSize ?? 512)]]);
    this.errors = new ErrorLog(this.identity.errorLogEntries);
    this.features = new Features({
      maxIoQueues: this.maxIoQueues,
      vectors: this.maxIoQueues + 1,
      ioQueuesExist: () => this.sqs.size > 1 || this.cqs.size > 1,
    });
    this.events = new AsyncEvents(this.identity.aerLimit, (cid, result) =>
      this.#completeAdmin(cid, { status: Status.SUCCESS, result }),
    );
    this.definition = this.#define();
  }

  get dma() {
    return this.#device().dma;
  }

  get csts(): number {
    return this.#csts;
  }

  get cc(): number {
    return this.#cc;
  }

  /** Releases the namespaces' storage (a backing file's descriptor). */
  close(): void {
    for (const ns of this.namespaces.values()) ns.backing.close();
  }

  /** Host-side fault injection (tests): the controller turns fatal as on a queue fault. */
  injectFatal(reason = "injected"): void {
    this.fatal(reason);
  }

  #device(): DeviceContext {
    if (this.#dev === undefined) throw new Error("the NVMe controller is not bound to a device");
    return this.#dev;
  }

  #define(): DeviceDefinition {
    const vectors = this.maxIoQueues + 1;
    return {
      name: "nvme",
      vendorId: 0x1b36, // Red Hat's QEMU range, as QEMU's own nvme
      deviceId: 0x0010,
      subsystemVendorId: 0x1b36,
      subsystemId: 0x0010,
      classCode: 0x010802, // mass storage, NVM, NVM Express
      revision: 2,
      bars: [
        {
          kind: "mem64",
          size: R.BAR0_SIZE,
          read: (off, size, dev) => this.#bind(dev).#read(off, size),
          write: (off, data, dev) => this.#bind(dev).#write(off, data),
        },
      ],
      capabilities: [
        { kind: "pm" },
        {
          kind: "msix",
          tableSize: vectors,
          tableBar: 0,
          tableOffset: R.MSIX_TABLE_OFFSET,
          pbaBar: 0,
          pbaOffset: R.MSIX_PBA_OFFSET,
        },
        { kind: "pcie", flr: true },
      ],
      reset: (dev) => this.#bind(dev).reset(),
      onDetach: (dev) => this.#bind(dev).#detached(),
      migration: nvmeMigration(this, (dev) => this.#bind(dev)),
    };
  }

  #bind(dev: DeviceContext): this {
    this.#dev = dev;
    return this;
  }

  // --- registers -------------------------------------------------------------------

  #reg32(off: number): number {
    const cap = R.capValue();
    switch (off) {
      case R.REG_CAP:
        return Number(cap & 0xffffffffn);
      case R.REG_CAP + 4:
        return Number(cap >> 32n);
      case R.REG_VS:
        return R.VERSION;
      case R.REG_INTMS:
      case R.REG_INTMC:
        return this.#intms;
      case R.REG_CC:
        return this.#cc;
      case R.REG_CSTS:
        return this.#csts;
      case R.REG_AQA:
        return this.#aqa;
      case R.REG_ASQ:
        return Number(this.#asq & 0xffffffffn);
      case R.REG_ASQ + 4:
        return Number(this.#asq >> 32n);
      case R.REG_ACQ:
        return Number(this.#acq & 0xffffffffn);
      case R.REG_ACQ + 4:
        return Number(this.#acq >> 32n);
      default:
        return 0; // reserved registers and doorbells read as zero
    }
  }

  #read(off: number, size: number): number | bigint {
    const base = off & ~3;
    if (size === 8 && (off & 7) === 0) {
      return BigInt(this.#reg32(off)) | (BigInt(this.#reg32(off + 4)) << 32n);
    }
    const dword = this.#reg32(base);
    const shift = (off - base) * 8;
    return size >= 4 ? dword : (dword >>> shift) & ((1 << (size * 8)) - 1);
  }

  #write(off: number, data: Uint8Array): void {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.byteLength === 8 && (off & 7) === 0) {
      this.#write32(off, v.getUint32(0, true));
      this.#write32(off + 4, v.getUint32(4, true));
    } else if (data.byteLength === 4 && (off & 3) === 0) {
      this.#write32(off, v.getUint32(0, true));
    }
    // Narrower or unaligned register writes are not defined by the spec: dropped.
  }

  #write32(off: number, value: number): void {
    if (off >= R.REG_DOORBELLS) {
      this.#doorbell(off, value);
      return;
    }
    switch (off) {
      case R.REG_INTMS:
        this.#intms |= value;
        this.#updateIntx();
        return;
      case R.REG_INTMC:
        this.#intms &= ~value;
        this.#updateIntx();
        return;
      case R.REG_CC:
        this.#setCc(value >>> 0);
        return;
      case R.REG_AQA:
        this.#aqa = value & 0x0fff0fff;
        return;
      case R.REG_ASQ:
        this.#asq = (this.#asq & ~0xffffffffn) | BigInt(value & ~0xfff);
        return;
      case R.REG_ASQ + 4:
        this.#asq = (this.#asq & 0xffffffffn) | (BigInt(value >>> 0) << 32n);
        return;
      case R.REG_ACQ:
        this.#acq = (this.#acq & ~0xffffffffn) | BigInt(value & ~0xfff);
        return;
      case R.REG_ACQ + 4:
        this.#acq = (this.#acq & 0xffffffffn) | (BigInt(value >>> 0) << 32n);
        return;
      default:
      // CAP, VS, CSTS and NSSR (no subsystem reset) are read-only here.
    }
  }

  // --- migration (migration.ts) -----------------------------------------------------

  /** The registers that move with a migration. */
  get registers(): RegisterState {
    return {
      cc: this.#cc,
      csts: this.#csts,
      aqa: this.#aqa,
      asq: this.#asq,
      acq: this.#acq,
      intms: this.#intms,
    };
  }

  /**
   * A migrated controller's registers, with no queue yet (the caller adds them). It runs
   * (fetches) when enabled, ready and not fatal, once resume() is called.
   */
  restoreRegisters(r: RegisterState): void {
    this.#clearQueues();
    this.#cc = r.cc >>> 0;
    this.#csts = r.csts >>> 0;
    this.#aqa = r.aqa >>> 0;
    this.#asq = r.asq;
    this.#acq = r.acq;
    this.#intms = r.intms >>> 0;
    this.#disabling = false;
    this.#running =
      (this.#cc & R.CC_EN) !== 0 &&
      (this.#csts & R.CSTS_RDY) !== 0 &&
      (this.#csts & R.CSTS_CFS) === 0;
  }

  /**
   * Migration stop: fetch nothing more, let every command already fetched complete and
   * its completion reach host memory (DMA and interrupts still work now).
   */
  async quiesce(): Promise<void> {
    this.#paused = true;
    await this.#drained();
    await Promise.all([...this.cqs.values()].map((cq) => cq.settled()));
  }

  /** Migration start: fetch again what the host rang in (on the destination: for the source). */
  resume(): void {
    this.#paused = false;
    if (this.#running) for (const sq of this.sqs.values()) if (!sq.empty) this.#kick(sq);
    this.#updateIntx();
  }

  // --- state machine ---------------------------------------------------------------

  #setCc(value: number): void {
    const was = this.#cc;
    this.#cc = value;
    const enable = (value & R.CC_EN) !== 0;
    if (enable && (was & R.CC_EN) === 0) this.#enable();
    else if (!enable && (was & R.CC_EN) !== 0) this.#disable();
    if (enable && R.ccShn(value) !== 0 && R.ccShn(was) === 0) this.#shutdown();
  }

  #enable(): void {
    if (this.#disabling || (this.#csts & R.CSTS_RDY) !== 0) return; // finished when the drain ends
    const cc = this.#cc;
    const asqs = (this.#aqa & 0xfff) + 1;
    const acqs = ((this.#aqa >>> 16) & 0xfff) + 1;
    const why =
      asqs < 2 || acqs < 2
        ? `admin queue sizes ${asqs}/${acqs} (AQA 0x${this.#aqa.toString(16)}): at least 2 entries`
        : R.ccCss(cc) !== 0
          ? `CC.CSS ${R.ccCss(cc)}: only the NVM command set`
          : R.ccMps(cc) !== 0
            ? `CC.MPS ${R.ccMps(cc)}: only 4 KiB pages`
            : R.ccAms(cc) !== 0
              ? `CC.AMS ${R.ccAms(cc)}: only round robin`
              : this.#asq === 0n || this.#acq === 0n
                ? "ASQ or ACQ is 0"
                : undefined;
    if (why !== undefined) {
      this.fatal(`enable refused: ${why}`);
      return;
    }
    const acq = new CompletionQueue(this, 0, this.#acq, acqs, 0, true);
    this.cqs.set(0, acq);
    this.sqs.set(0, new SubmissionQueue(0, this.#asq, asqs, acq));
    acq.sqs.add(0);
    this.#running = true;
    this.#csts = R.CSTS_RDY;
  }

  /** CC.EN 1 -> 0: stop fetching, let running commands finish, then drop every queue. */
  #disable(): void {
    this.#running = false;
    this.#disabling = true;
    this.#device().tasks.run(async () => {
      await this.#drained();
      this.#clearQueues();
      this.#disabling = false;
      this.#csts = 0;
      if ((this.#cc & R.CC_EN) !== 0) this.#enable(); // enabled again while draining
    }, "NVMe controller disable");
  }

  /** CC.SHN set: complete what runs, make the data durable, report shutdown complete. */
  #shutdown(): void {
    this.#csts = (this.#csts & ~R.CSTS_SHST_MASK) | R.CSTS_SHST_OCCURRING;
    this.#device().tasks.run(async () => {
      await this.#drained();
      for (const ns of this.namespaces.values()) await ns.backing.flush();
      this.#csts = (this.#csts & ~R.CSTS_SHST_MASK) | R.CSTS_SHST_COMPLETE;
    }, "NVMe shutdown");
  }

  /** Controller Fatal Status: stop processing until the host disables the controller. */
  fatal(reason: string): void {
    if (this.#dev) this.#dev.log.warn(`nvme: controller fatal status (CSTS.CFS): ${reason}`);
    this.#running = false;
    this.#csts |= R.CSTS_CFS;
  }

  /** DEVICE_RESET or FLR: every register to its reset value (tasks have drained). */
  reset(): void {
    this.#running = false;
    this.#disabling = false;
    this.#paused = false;
    this.#clearQueues();
    this.#cc = 0;
    this.#csts = 0;
    this.#aqa = 0;
    this.#asq = 0n;
    this.#acq = 0n;
    this.#intms = 0;
  }

  #detached(): void {
    // The client's memory is gone: nothing can be fetched or completed any more.
    this.#running = false;
  }

  #clearQueues(): void {
    for (const sq of this.sqs.values()) sq.deleted = true;
    this.sqs.clear();
    this.cqs.clear();
    this.events.reset();
    this.features.reset();
    if (this.#dev?.irq.mode === "intx") this.#dev.irq.intx.deassert();
  }

  async #drained(): Promise<void> {
    await Promise.all([...this.sqs.values()].map((sq) => sq.idle()));
    if (this.#ioInflight > 0) await new Promise<void>((r) => this.#ioIdle.push(r));
  }

  // --- doorbells and fetching ------------------------------------------------------

  #doorbell(off: number, value: number): void {
    if ((this.#csts & R.CSTS_RDY) === 0 || !this.#running) return;
    const bell = R.doorbellAt(off, this.maxIoQueues + 1);
    if (bell === undefined) return;
    if (bell.cq) {
      const cq = this.cqs.get(bell.qid);
      if (cq === undefined) this.events.doorbellError(0x00);
      else if (!cq.setHead(value)) this.events.doorbellError(0x01);
      else {
        this.#updateIntx();
        for (const id of cq.sqs) {
          const sq = this.sqs.get(id);
          if (sq !== undefined && !sq.empty) this.#kick(sq);
        }
      }
      return;
    }
    const sq = this.sqs.get(bell.qid);
    if (sq === undefined) this.events.doorbellError(0x00);
    else if (value >= sq.size) this.events.doorbellError(0x01);
    else {
      sq.tail = value;
      this.#kick(sq);
    }
  }

  #kick(sq: SubmissionQueue): void {
    if (sq.fetching || this.#paused) return;
    sq.fetching = true;
    this.#device().tasks.run(() => this.#fetch(sq), `NVMe SQ ${sq.id}`);
  }

  async #fetch(sq: SubmissionQueue): Promise<void> {
    try {
      while (this.#running && !this.#paused && !sq.deleted && !sq.empty) {
        const n = sq.contiguous(FETCH_BATCH);
        let bytes: Uint8Array;
        try {
          bytes = await this.dma.read(sq.entryAddress(sq.head), n * R.SQE_SIZE);
        } catch (err) {
          this.fatal(
            `SQ ${sq.id} entries ${sq.head}..${sq.head + n - 1}: ${(err as Error).message}`,
          );
          return;
        }
        for (let i = 0; i < n && this.#running && !this.#paused && !sq.deleted; i++) {
          // No room for its completion: leave it in the ring until the host releases
          // completions (the CQ head doorbell kicks this queue again).
          if (!sq.cq.hasRoom) return;
          const sqe = decodeSqe(bytes, i * R.SQE_SIZE);
          sq.head = (sq.head + 1) % sq.size;
          if (sq.id === 0) await this.#runAdmin(sq, sqe);
          else this.#runIo(sq, sqe);
        }
      }
    } finally {
      sq.stoppedFetching();
    }
  }

  async #runAdmin(sq: SubmissionQueue, sqe: Sqe): Promise<void> {
    sq.started();
    const cq = sq.cq;
    cq.reserve();
    try {
      const c = await this.#guard(sqe, () => adminCommand(this, sqe));
      if (c !== undefined) this.#complete(sq, sqe, c);
    } finally {
      cq.release();
      sq.finished();
    }
  }

  #runIo(sq: SubmissionQueue, sqe: Sqe): void {
    sq.started();
    const cq = sq.cq;
    cq.reserve();
    this.#ioInflight++;
    this.#device().tasks.run(async () => {
      try {
        this.#complete(sq, sqe, (await this.#guard(sqe, () => ioCommand(this, sqe)))!);
      } finally {
        cq.release();
        sq.finished();
        if (--this.#ioInflight === 0) for (const w of this.#ioIdle.splice(0)) w();
      }
    }, `NVMe I/O on SQ ${sq.id}`);
  }

  /** Runs a handler; CommandStatus ends the command with its status, anything else is internal. */
  async #guard(
    sqe: Sqe,
    run: () => Promise<Completion | undefined>,
  ): Promise<Completion | undefined> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof CommandStatus) return { status: err.status, result: 0 };
      this.#dev?.log.warn(
        `nvme: opcode 0x${sqe.opcode.toString(16)} cid ${sqe.cid} failed: ${(err as Error)?.message ?? err}`,
      );
      return { status: Status.INTERNAL_ERROR, result: 0 };
    }
  }

  #complete(sq: SubmissionQueue, sqe: Sqe, c: Completion): void {
    if (c.status !== Status.SUCCESS) {
      const lba = sq.id !== 0 ? (BigInt(sqe.cdw11) << 32n) | BigInt(sqe.cdw10) : 0n;
      this.errors.record(sq.id, sqe.cid, c.status, sqe.nsid, lba);
    }
    // After CSTS.CFS the controller writes nothing more to host memory.
    if ((this.#csts & R.CSTS_CFS) === 0) sq.cq.post(sq, sqe.cid, c.result, c.status);
  }

  /** Completes a held admin command (an Asynchronous Event Request). */
  #completeAdmin(cid: number, c: Completion): void {
    const sq = this.sqs.get(0);
    if (sq && this.#running) sq.cq.post(sq, cid, c.result, c.status);
  }

  // --- data and interrupts ---------------------------------------------------------

  /** The host memory of a command's data pointer, `length` bytes. */
  async dataSegments(sqe: Sqe, length: number) {
    if (sqe.psdt !== 0) throw new CommandStatus(Status.INVALID_FIELD, "SGLs are not supported");
    const list: ListReader = (iova, bytes) => this.#dma(() => this.dma.read(iova, bytes));
    return prpSegments(sqe.prp1, sqe.prp2, length, list);
  }

  /** Copies `data` to the command's data buffer. */
  async toHost(sqe: Sqe, data: Uint8Array): Promise<void> {
    const segs = await this.dataSegments(sqe, data.byteLength);
    await this.#dma(() => this.dma.writeSegments(segs, data));
  }

  /** Reads `length` bytes of the command's data buffer. */
  async fromHost(sqe: Sqe, length: number): Promise<Uint8Array> {
    const segs = await this.dataSegments(sqe, length);
    return this.#dma(() => this.dma.readSegments(segs));
  }

  /** A data access that faults ends the command with Data Transfer Error. */
  dataTransfer<T>(f: () => Promise<T>): Promise<T> {
    return this.#dma(f);
  }

  /** Logs a warning on the device's log. */
  log(message: string): void {
    this.#dev?.log.warn(`nvme: ${message}`);
  }

  async #dma<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw new CommandStatus(Status.DATA_TRANSFER_ERROR, (err as Error).message);
    }
  }

  notify(cq: CompletionQueue): void {
    if (!cq.ien) return;
    const irq = this.#device().irq;
    if (irq.mode === "intx") this.#updateIntx();
    else if (irq.mode === "msix") irq.trigger(cq.vector);
    else if (irq.mode === "msi") irq.trigger(0);
  }

  /** INTx is a level: asserted while a CQ with interrupts holds unreleased entries. */
  #updateIntx(): void {
    const irq = this.#dev?.irq;
    if (irq?.mode !== "intx") return;
    const pending = [...this.cqs.values()].some((cq) => cq.ien && cq.outstanding);
    if (pending && (this.#intms & 1) === 0) irq.intx.assert();
    else irq.intx.deassert();
  }
}
