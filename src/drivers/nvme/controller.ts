/**
 * An NVMe controller brought up by a user-level driver: the admin queue pair in
 * Container memory, interrupts (or polling), and the admin commands the driver needs
 * (Identify, Get/Set Features, Get Log Page, Create/Delete I/O queues, Abort). I/O
 * queue pairs are created here and handed to the block layer (driver.ts).
 */
import { debuglog } from "node:util";
import {
  Container,
  type DeviceHandle,
  type DmaBuffer,
  type MigrateOptions,
  type MigrationReport,
  migrateDevice,
} from "../../client/index.js";
import { VfioError } from "../../errors.js";
import { PCI_CLASS_PROG, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from "../../pci/regs.js";
import * as cmds from "./commands.js";
import { CompletionIrqs, type NvmeIrqMode } from "./completion-irqs.js";
import { ControllerRegs } from "./controller-regs.js";
import type { Completion } from "./cqe.js";
import { DoorbellGate } from "./doorbell-gate.js";
import {
  decodeIdentifyController,
  decodeIdentifyNamespace,
  decodeNamespaceList,
  type IdentifyController,
  type IdentifyNamespace,
} from "./identify.js";
import { decodeSmartLog, LID_SMART, SMART_LOG_SIZE, type SmartLog } from "./log-pages.js";
import { QueuePair } from "./queue-pair.js";
import {
  CQE_SIZE,
  CSTS_CFS,
  doorbellOffset,
  enableCc,
  encodeAqa,
  NVME_BAR,
  type NvmeCap,
  PAGE_SIZE,
  SQE_SIZE,
} from "./regs.js";
import type { NvmeCommand } from "./sqe.js";
import type { TransferArea, TransferSlot } from "./transfer-area.js";

const debug = debuglog("nvme-driver");

/** PCI class code of an NVM Express controller. */
const NVME_CLASS_CODE = 0x010802;

export interface NvmeControllerOptions {
  /** Completion notification; default "auto" (MSI-X, MSI, INTx, then polling). */
  readonly irqMode?: NvmeIrqMode;
  /** Admin queue entries; default 32. */
  readonly adminEntries?: number;
  /** How long a command may take before it fails with ETIMEDOUT; default 30 s (0: never). */
  readonly commandTimeoutMs?: number;
  /**
   * Container for the queues and data buffers; the caller keeps it (close() detaches
   * only). Default: a private container, closed with the controller.
   */
  readonly container?: Container;
  /** I/O queue pairs the interrupts are sized for (one vector each, plus admin); default 1. */
  readonly ioQueues?: number;
}

/** Data a command moves: `length` bytes, to the controller (out) or from it (in). */
export interface CommandData {
  readonly length: number;
  /** Bytes to send; absent for a transfer from the controller. */
  readonly out?: Uint8Array;
}

export class NvmeController {
  readonly container: Container;
  readonly cap: NvmeCap;
  readonly version: number;
  readonly admin: QueuePair;
  #device: DeviceHandle;
  #regs: ControllerRegs;
  /** The completion interrupts now (the admin queue's submit hook reads it too). */
  readonly #current: { irqs: CompletionIrqs };
  readonly #gate: DoorbellGate;
  #migrating = false;
  readonly commandTimeoutMs: number;
  readonly #ownsContainer: boolean;
  readonly #buffers: DmaBuffer[];
  readonly #io = new Map<number, { qp: QueuePair; buffer: DmaBuffer }>();
  /** Memory of users of the controller (data areas), freed at close before the container. */
  readonly #releases: (() => Promise<void>)[] = [];

  /**
   * Enables memory decoding and bus mastering, resets the controller (CC.EN=0), sets up
   * the admin queues and interrupts and enables it again (base spec section 3.5.1).
   */
  static async open(
    device: DeviceHandle,
    options: NvmeControllerOptions = {},
  ): Promise<NvmeController> {
    await checkNvme(device);
    await device.config.updateCommand(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    const regs = new ControllerRegs(device);
    const cap = await regs.cap();
    const version = await regs.version();
    if ((cap.commandSets & 1) === 0) {
      throw new VfioError(
        "ENODEV",
        `${device.name}: the controller does not offer the NVM command set`,
      );
    }
    if (cap.minPageSize > PAGE_SIZE || cap.maxPageSize < PAGE_SIZE) {
      throw new VfioError("ENODEV", `${device.name}: the controller cannot use 4 KiB memory pages`);
    }
    await regs.disable(cap);
    const ownsContainer = options.container === undefined;
    const container = options.container ?? new Container();
    const buffers: DmaBuffer[] = [];
    let irqs: CompletionIrqs | undefined;
    const gate = new DoorbellGate((off, v) => device.writePosted32(NVME_BAR, off, v));
    const current: { irqs?: CompletionIrqs } = {};
    try {
      await container.attach(device);
      const entries = Math.min(options.adminEntries ?? 32, cap.maxQueueEntries, 4096);
      const sqBytes = entries * SQE_SIZE;
      const mem = await container.allocateBuffer(
        roundPage(sqBytes) + roundPage(entries * CQE_SIZE),
        { name: "nvme-admin" },
      );
      buffers.push(mem);
      irqs = await CompletionIrqs.enable(
        device,
        options.irqMode ?? "auto",
        1 + (options.ioQueues ?? 1),
      );
      const admin = new QueuePair({
        qid: 0,
        entries,
        sqMemory: new Uint8Array(mem.buffer, 0, sqBytes),
        cqMemory: new Uint8Array(mem.buffer, roundPage(sqBytes), entries * CQE_SIZE),
        doorbells: doorbellsOf(gate, 0, cap.doorbellStride),
        onSubmit: () => current.irqs?.kick(),
      });
      current.irqs = irqs;
      irqs.attach(admin);
      await regs.setAdminQueues(
        encodeAqa(entries, entries),
        mem.iova,
        mem.iova + BigInt(roundPage(sqBytes)),
      );
      await regs.enable(cap, enableCc());
      return new NvmeController(
        device,
        container,
        ownsContainer,
        cap,
        version,
        regs,
        current as { irqs: CompletionIrqs },
        gate,
        admin,
        buffers,
        options,
      );
    } catch (err) {
      await irqs?.close().catch(() => {});
      await regs.disable(cap).catch(() => {});
      for (const b of buffers) await b.free().catch(() => {});
      if (ownsContainer) await container.close().catch(() => {});
      else await container.detach(device).catch(() => {});
      throw err;
    }
  }

  private constructor(
    device: DeviceHandle,
    container: Container,
    ownsContainer: boolean,
    cap: NvmeCap,
    version: number,
    regs: ControllerRegs,
    current: { irqs: CompletionIrqs },
    gate: DoorbellGate,
    admin: QueuePair,
    buffers: DmaBuffer[],
    options: NvmeControllerOptions,
  ) {
    this.#device = device;
    this.container = container;
    this.#ownsContainer = ownsContainer;
    this.cap = cap;
    this.version = version;
    this.#regs = regs;
    this.#current = current;
    this.#gate = gate;
    this.admin = admin;
    this.#buffers = buffers;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
  }

  /** The device the driver talks to (the destination's, after a migration). */
  get device(): DeviceHandle {
    return this.#device;
  }

  /** The controller's registers on that device. */
  get regs(): ControllerRegs {
    return this.#regs;
  }

  /** How completions are noticed on that device. */
  get irqs(): CompletionIrqs {
    return this.#current.irqs;
  }

  /** The doorbell writes of every queue (held while a migration stops the device). */
  get doorbells(): DoorbellGate {
    return this.#gate;
  }

  /**
   * Live migration under this driver: moves the controller to `destination` (a fresh
   * controller of the same kind in another server, e.g. `vfio-ts serve nvme` on shared
   * storage) while commands are in flight, and carries on there with the same queues.
   *
   * The destination is attached to the driver's container (every queue and data buffer
   * is mapped into it at the same IOVA) and its interrupts are armed; doorbell writes
   * are held from just before the source stops (the source completes what it fetched;
   * what was rung and not fetched is fetched by the destination); after the migration
   * the held doorbells go to the destination, which the driver uses from then on, and
   * the source is detached (it stays in STOP). On a failure the source runs again, the
   * held doorbells go to it, and the destination is let go.
   */
  async migrate(destination: DeviceHandle, options: MigrateOptions = {}): Promise<MigrationReport> {
    if (destination === this.#device) {
      throw new VfioError("EINVAL", `${destination.name} is the device being migrated`);
    }
    if (this.#migrating) throw new VfioError("EBUSY", "a migration of this controller is running");
    this.#migrating = true;
    try {
      return await this.#migrate(destination, options);
    } finally {
      this.#migrating = false;
    }
  }

  async #migrate(destination: DeviceHandle, options: MigrateOptions): Promise<MigrationReport> {
    await checkNvme(destination);
    const source = this.#device;
    const old = this.irqs;
    let next: CompletionIrqs | undefined;
    let report: MigrationReport;
    await this.container.attach(destination);
    try {
      await destination.config.updateCommand(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
      next = await CompletionIrqs.enable(
        destination,
        old.mode,
        old.mode === "poll" ? 1 : old.vectorCount,
      );
      for (const qp of [this.admin, ...this.ioQueues]) next.attach(qp);
      report = await migrateDevice(source, destination, {
        ...options,
        beforeStop: async () => {
          this.#gate.hold();
          await options.beforeStop?.();
        },
      });
    } catch (err) {
      // migrateDevice put the source back to work: it gets the doorbells held meanwhile.
      await this.#gate.release();
      await next?.close().catch((e: Error) => debug("destination irqs: %s", e.message));
      await this.container.detach(destination).catch(() => {});
      throw err;
    }
    this.#device = destination;
    this.#regs = new ControllerRegs(destination);
    this.#current.irqs = next;
    await this.#gate.release((off, v) => destination.writePosted32(NVME_BAR, off, v));
    // Completions posted while the interrupts changed hands are taken now.
    for (const qp of [this.admin, ...this.ioQueues]) qp.reap();
    next.kick();
    await old.close().catch((e: Error) => debug("source irqs: %s", e.message));
    await this.container.detach(source).catch((e: Error) => debug("detach source: %s", e.message));
    return report;
  }

  /** I/O queue pairs created so far, by queue id. */
  get ioQueues(): QueuePair[] {
    return [...this.#io.values()].map((q) => q.qp);
  }

  /**
   * Submits `cmd` on `queue` (default: the admin queue) with its data staged in a slot
   * of `area`; resolves with the completion and, for a transfer from the controller,
   * a copy of the data.
   */
  async submit(
    cmd: NvmeCommand,
    what: string,
    opts: { queue?: QueuePair; area?: TransferArea; data?: CommandData } = {},
  ): Promise<{ completion: Completion; data?: Uint8Array }> {
    const queue = opts.queue ?? this.admin;
    const data = opts.data;
    if (data === undefined || data.length === 0) {
      return { completion: await this.#run(queue, cmd, what) };
    }
    const area = opts.area;
    if (area === undefined) throw new VfioError("EINVAL", `${what}: data needs a transfer area`);
    return area.with(async (slot: TransferSlot) => {
      if (data.out !== undefined) slot.data.set(data.out.subarray(0, data.length));
      const prps = area.prps(slot, data.length);
      const completion = await this.#run(queue, { ...cmd, prp1: prps.prp1, prp2: prps.prp2 }, what);
      return data.out === undefined
        ? { completion, data: slot.data.slice(0, data.length) }
        : { completion };
    });
  }

  async identifyController(area: TransferArea): Promise<IdentifyController> {
    const r = await this.submit(cmds.identify(cmds.CNS_CONTROLLER), "Identify Controller", {
      area,
      data: { length: 4096 },
    });
    return decodeIdentifyController(r.data!);
  }

  async identifyNamespace(area: TransferArea, nsid: number): Promise<IdentifyNamespace> {
    const r = await this.submit(
      cmds.identify(cmds.CNS_NAMESPACE, nsid),
      `Identify Namespace ${nsid}`,
      {
        area,
        data: { length: 4096 },
      },
    );
    return decodeIdentifyNamespace(r.data!);
  }

  async activeNamespaces(area: TransferArea): Promise<number[]> {
    const r = await this.submit(
      cmds.identify(cmds.CNS_ACTIVE_NAMESPACES),
      "Identify active NS list",
      {
        area,
        data: { length: 4096 },
      },
    );
    return decodeNamespaceList(r.data!);
  }

  async getLogPage(
    area: TransferArea,
    lid: number,
    bytes: number,
    nsid = cmds.NSID_ALL,
  ): Promise<Uint8Array> {
    const r = await this.submit(
      cmds.getLogPage(lid, bytes, nsid),
      `Get Log Page 0x${lid.toString(16)}`,
      {
        area,
        data: { length: bytes },
      },
    );
    return r.data!;
  }

  async smartLog(area: TransferArea): Promise<SmartLog> {
    return decodeSmartLog(await this.getLogPage(area, LID_SMART, SMART_LOG_SIZE));
  }

  /** Get Features: the feature's dword 0 result. */
  async getFeature(fid: number, select: cmds.FeatureSelect = "current", nsid = 0): Promise<number> {
    const r = await this.submit(
      cmds.getFeatures(fid, select, nsid),
      `Get Features 0x${fid.toString(16)}`,
    );
    return r.completion.result;
  }

  /** Set Features: the controller's dword 0 result. */
  async setFeature(fid: number, value: number, nsid = 0): Promise<number> {
    const r = await this.submit(
      cmds.setFeatures(fid, value, nsid),
      `Set Features 0x${fid.toString(16)}`,
    );
    return r.completion.result;
  }

  /** Asks for `count` I/O queue pairs; resolves with what the controller granted. */
  async setNumberOfQueues(count: number): Promise<{ submission: number; completion: number }> {
    const r = await this.submit(
      cmds.setNumberOfQueues(count, count),
      "Set Features Number of Queues",
    );
    return cmds.decodeNumberOfQueues(r.completion.result);
  }

  /** Abort of command `cid` on `sqid`; resolves with whether it was aborted (result bit 0 clear). */
  async abort(sqid: number, cid: number): Promise<boolean> {
    const r = await this.submit(cmds.abort(sqid, cid), `Abort of CID ${cid} on SQ ${sqid}`);
    return (r.completion.result & 1) === 0;
  }

  /**
   * Creates I/O completion queue `qid` then submission queue `qid` on it, in Container
   * memory, with `entries` entries (capped by CAP.MQES).
   */
  async createIoQueuePair(qid: number, entries: number): Promise<QueuePair> {
    if (this.#io.has(qid)) throw new VfioError("EEXIST", `I/O queue ${qid} exists`);
    const n = Math.max(2, Math.min(entries, this.cap.maxQueueEntries, 65536));
    const sqBytes = roundPage(n * SQE_SIZE);
    const buffer = await this.container.allocateBuffer(sqBytes + roundPage(n * CQE_SIZE), {
      name: `nvme-io${qid}`,
    });
    const qp = new QueuePair({
      qid,
      entries: n,
      sqMemory: new Uint8Array(buffer.buffer, 0, n * SQE_SIZE),
      cqMemory: new Uint8Array(buffer.buffer, sqBytes, n * CQE_SIZE),
      doorbells: doorbellsOf(this.#gate, qid, this.cap.doorbellStride),
      onSubmit: () => this.irqs.kick(),
    });
    let cqCreated = false;
    try {
      const cq = cmds.createIoCq(qid, n, this.irqs.vectorFor(qid));
      await this.#run(
        this.admin,
        { ...cq, prp1: buffer.iova + BigInt(sqBytes) },
        `Create I/O CQ ${qid}`,
      );
      cqCreated = true;
      this.irqs.attach(qp);
      const sq = cmds.createIoSq(qid, n, qid);
      await this.#run(this.admin, { ...sq, prp1: buffer.iova }, `Create I/O SQ ${qid}`);
    } catch (err) {
      this.irqs.detach(qp);
      if (cqCreated)
        await this.#run(this.admin, cmds.deleteIoCq(qid), `Delete I/O CQ ${qid}`).catch(() => {});
      await buffer.free().catch(() => {});
      throw err;
    }
    this.#io.set(qid, { qp, buffer });
    return qp;
  }

  /** Deletes I/O submission queue `qid` and then its completion queue. */
  async deleteIoQueuePair(qid: number): Promise<void> {
    const q = this.#io.get(qid);
    if (q === undefined) throw new VfioError("ENOENT", `no I/O queue ${qid}`);
    this.#io.delete(qid);
    try {
      await this.#run(this.admin, cmds.deleteIoSq(qid), `Delete I/O SQ ${qid}`);
      await this.#run(this.admin, cmds.deleteIoCq(qid), `Delete I/O CQ ${qid}`);
    } finally {
      this.irqs.detach(q.qp);
      q.qp.fail(new VfioError("ECANCELED", `I/O queue ${qid} was deleted`));
      await q.buffer.free();
    }
  }

  /** Has `release` run at close, once the queues are gone and before the container goes. */
  onClose(release: () => Promise<void>): void {
    this.#releases.push(release);
  }

  /** Whether CSTS reports a controller fatal status. */
  async fatal(): Promise<boolean> {
    return ((await this.regs.csts()) & CSTS_CFS) !== 0;
  }

  /**
   * Deletes the I/O queues, shuts the controller down (CC.SHN) and disables it, turns
   * interrupts off and frees (or leaves) the container. Best effort once the device
   * is gone. The DeviceHandle stays open: it is the caller's.
   */
  async close(): Promise<void> {
    const live = !this.device.closed && this.device.disconnectError === null;
    if (live) {
      for (const qid of [...this.#io.keys()].reverse()) {
        await this.deleteIoQueuePair(qid).catch((e: Error) =>
          debug("delete queue %d: %s", qid, e.message),
        );
      }
      await this.regs.shutdown(this.cap).catch((e: Error) => debug("shutdown: %s", e.message));
      await this.regs.disable(this.cap).catch((e: Error) => debug("disable: %s", e.message));
    }
    const closed = new VfioError("ECANCELED", "the NVMe controller was closed");
    this.admin.fail(closed);
    for (const q of this.#io.values()) q.qp.fail(closed);
    await this.irqs.close();
    for (const b of this.#buffers) await b.free().catch(() => {});
    for (const q of this.#io.values()) await q.buffer.free().catch(() => {});
    for (const r of this.#releases) await r().catch(() => {});
    this.#io.clear();
    if (this.#ownsContainer) await this.container.close();
    else await this.container.detach(this.device);
  }

  /** Submits and, on a timeout, says whether the controller has failed. */
  async #run(queue: QueuePair, cmd: NvmeCommand, what: string): Promise<Completion> {
    try {
      return await queue.submit(cmd, what, this.commandTimeoutMs);
    } catch (err) {
      if (
        err instanceof VfioError &&
        err.code === "ETIMEDOUT" &&
        (await this.fatal().catch(() => false))
      ) {
        const fatal = new VfioError(
          "EIO",
          `${what}: the controller reports a fatal status (CSTS.CFS)`,
          {
            cause: err,
          },
        );
        this.admin.fail(fatal);
        for (const q of this.#io.values()) q.qp.fail(fatal);
        throw fatal;
      }
      throw err;
    }
  }
}

function roundPage(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

/**
 * Doorbells as posted writes through the gate: in order with every other access, no
 * reply awaited, held while a migration stops the device.
 */
function doorbellsOf(gate: DoorbellGate, qid: number, stride: number) {
  return gate.queue(doorbellOffset(qid, false, stride), doorbellOffset(qid, true, stride));
}

/** Refuses a device that is not a PCI NVMe controller (by its class code). */
async function checkNvme(device: DeviceHandle): Promise<void> {
  if (!device.isPci) throw new VfioError("ENODEV", `${device.name} is not a PCI device`);
  // Mass storage, non-volatile memory, NVM Express: what a kernel NVMe driver matches.
  const cls = await device.config.read(PCI_CLASS_PROG, 3);
  const code = (cls[2]! << 16) | (cls[1]! << 8) | cls[0]!;
  if (code !== NVME_CLASS_CODE) {
    throw new VfioError(
      "ENODEV",
      `${device.name} is not an NVMe controller (class 0x${code.toString(16).padStart(6, "0")}, expected 0x010802)`,
    );
  }
}
