/**
 * A user-level NVMe driver over the driver SDK only (DeviceHandle, Container,
 * IrqVector): it brings the controller up, identifies it and its namespaces, creates
 * I/O queue pairs and offers a small block API. Large requests are split at the
 * controller's maximum transfer size and run side by side on the queues; each piece
 * stages its data in a slot of the driver's DMA memory (PRP lists included).
 */
import type {
  Container,
  DeviceHandle,
  MigrateOptions,
  MigrationReport,
} from "../../client/index.js";
import { VfioError } from "../../errors.js";
import * as cmds from "./commands.js";
import type { NvmeIrqMode } from "./completion-irqs.js";
import { type CommandData, NvmeController } from "./controller.js";
import type { Completion } from "./cqe.js";
import {
  type IdentifyController,
  type IdentifyNamespace,
  ONCS_DSM,
  ONCS_WRITE_ZEROES,
} from "./identify.js";
import type { SmartLog } from "./log-pages.js";
import type { QueuePair } from "./queue-pair.js";
import { formatVersion, PAGE_SIZE } from "./regs.js";
import type { NvmeCommand } from "./sqe.js";
import { TransferArea } from "./transfer-area.js";

/** How `NvmeDriver.open` brings the controller up: queues, interrupts, timeouts. */
export interface NvmeDriverOptions {
  /** Completion notification; default "auto" (MSI-X, MSI, INTx, then polling). */
  readonly irqMode?: NvmeIrqMode;
  /** I/O queue pairs to create (fewer if the controller grants fewer); default 1. */
  readonly ioQueues?: number;
  /** Entries per I/O queue; default 64 (capped by CAP.MQES). */
  readonly queueEntries?: number;
  /** Largest transfer per command, in bytes (capped by MDTS); default 128 KiB. */
  readonly maxTransferBytes?: number;
  /** Transfers in flight at once (DMA slots); default 8. */
  readonly transferSlots?: number;
  /** Per-command timeout; default 30 s. */
  readonly commandTimeoutMs?: number;
  /** Container to use; the caller keeps it. Default: a private one. */
  readonly container?: Container;
}

/** What a namespace looks like to the block API. */
export interface NvmeNamespace {
  readonly nsid: number;
  readonly blockSize: number;
  /** Size in logical blocks. */
  readonly blocks: bigint;
  readonly identify: IdentifyNamespace;
}

/** What bring-up learnt: the controller's Identify data and its active namespaces. */
export interface NvmeIdentity {
  readonly version: string;
  readonly controller: IdentifyController;
  readonly namespaces: readonly NvmeNamespace[];
}

/**
 * A user-level NVMe driver on the driver API: bring-up, admin and I/O queues, block reads and
 * writes, over any backend.
 */
export class NvmeDriver {
  readonly controller: NvmeController;
  readonly identity: NvmeIdentity;
  /** The largest transfer one command carries, in bytes. */
  readonly maxTransferBytes: number;
  readonly #area: TransferArea;
  readonly #queues: QueuePair[];
  readonly #namespaces: Map<number, NvmeNamespace>;
  #next = 0;
  #closing: Promise<void> | null = null;

  /**
   * Brings the controller up on `device` (reset, admin queue, Identify, I/O queues) and returns the
   * driver.
   */
  static async open(device: DeviceHandle, options: NvmeDriverOptions = {}): Promise<NvmeDriver> {
    const wanted = Math.max(1, options.ioQueues ?? 1);
    const controller = await NvmeController.open(device, {
      irqMode: options.irqMode,
      commandTimeoutMs: options.commandTimeoutMs,
      container: options.container,
      ioQueues: wanted,
    });
    try {
      // Identify first with a one-page area: MDTS decides the real slot size.
      const probe = await TransferArea.allocate(controller.container, 1, PAGE_SIZE);
      let id: IdentifyController;
      try {
        id = await controller.identifyController(probe);
      } finally {
        await probe.free();
      }
      const mdtsBytes =
        id.mdts === 0 ? Number.POSITIVE_INFINITY : 2 ** id.mdts * controller.cap.minPageSize;
      const maxTransferBytes = Math.max(
        PAGE_SIZE,
        Math.floor(Math.min(options.maxTransferBytes ?? 128 * 1024, mdtsBytes) / PAGE_SIZE) *
          PAGE_SIZE,
      );
      const area = await TransferArea.allocate(
        controller.container,
        options.transferSlots ?? 8,
        maxTransferBytes,
      );
      controller.onClose(() => area.free());
      const granted = await controller.setNumberOfQueues(wanted);
      const count = Math.min(wanted, granted.submission, granted.completion);
      const queues: QueuePair[] = [];
      for (let qid = 1; qid <= count; qid++) {
        queues.push(await controller.createIoQueuePair(qid, options.queueEntries ?? 64));
      }
      const namespaces = new Map<number, NvmeNamespace>();
      for (const nsid of await controller.activeNamespaces(area)) {
        const ns = await controller.identifyNamespace(area, nsid);
        namespaces.set(nsid, { nsid, blockSize: ns.blockSize, blocks: ns.size, identify: ns });
      }
      const identity = {
        version: formatVersion(controller.version),
        controller: id,
        namespaces: [...namespaces.values()],
      };
      return new NvmeDriver(controller, identity, maxTransferBytes, area, queues, namespaces);
    } catch (err) {
      await controller.close().catch(() => {});
      throw err;
    }
  }

  private constructor(
    controller: NvmeController,
    identity: NvmeIdentity,
    maxTransferBytes: number,
    area: TransferArea,
    queues: QueuePair[],
    namespaces: Map<number, NvmeNamespace>,
  ) {
    this.controller = controller;
    this.identity = identity;
    this.maxTransferBytes = maxTransferBytes;
    this.#area = area;
    this.#queues = queues;
    this.#namespaces = namespaces;
  }

  get device(): DeviceHandle {
    return this.controller.device;
  }

  /** The I/O queue pairs in use. */
  get queues(): readonly QueuePair[] {
    return this.#queues;
  }

  /** The controller and its namespaces as Identify reported them at open. */
  identify(): NvmeIdentity {
    return this.identity;
  }

  /** The active namespace `nsid` (block size and count); throws for an inactive one. */
  namespace(nsid: number): NvmeNamespace {
    const ns = this.#namespaces.get(nsid);
    if (ns === undefined) {
      throw new VfioError(
        "ENOENT",
        `namespace ${nsid} is not active (have ${[...this.#namespaces.keys()].join(", ")})`,
      );
    }
    if (ns.blockSize === 0)
      throw new VfioError("EINVAL", `namespace ${nsid} has an LBA format we cannot use`);
    return ns;
  }

  /** Reads `count` logical blocks from `lba`. */
  async readBlocks(nsid: number, lba: bigint | number, count: number): Promise<Uint8Array> {
    const ns = this.namespace(nsid);
    const start = this.#checkRange(ns, lba, count);
    const out = new Uint8Array(count * ns.blockSize);
    await this.#split(ns, start, count, async (at, blocks, offset) => {
      const r = await this.#io(cmds.readWrite(false, nsid, at, blocks), "Read", {
        length: blocks * ns.blockSize,
      });
      out.set(r.data!, offset);
    });
    return out;
  }

  /** Writes `data` (a whole number of blocks) from `lba`. */
  async writeBlocks(nsid: number, lba: bigint | number, data: Uint8Array): Promise<void> {
    const ns = this.namespace(nsid);
    if (data.byteLength === 0 || data.byteLength % ns.blockSize !== 0) {
      throw new VfioError(
        "EINVAL",
        `write of ${data.byteLength} bytes is not a whole number of ${ns.blockSize}-byte blocks`,
      );
    }
    const count = data.byteLength / ns.blockSize;
    const start = this.#checkRange(ns, lba, count);
    await this.#split(ns, start, count, async (at, blocks, offset) => {
      const bytes = blocks * ns.blockSize;
      await this.#io(cmds.readWrite(true, nsid, at, blocks), "Write", {
        length: bytes,
        out: data.subarray(offset, offset + bytes),
      });
    });
  }

  /** Flush: what was written is on non-volatile media when this resolves. */
  async flush(nsid: number): Promise<void> {
    this.namespace(nsid);
    await this.#io(cmds.flush(nsid), "Flush");
  }

  /** Write Zeroes of `count` blocks from `lba`. */
  async writeZeroes(nsid: number, lba: bigint | number, count: number): Promise<void> {
    const ns = this.namespace(nsid);
    this.#requireOncs(ONCS_WRITE_ZEROES, "Write Zeroes");
    const start = this.#checkRange(ns, lba, count);
    for (let done = 0; done < count; done += 65536) {
      const n = Math.min(65536, count - done);
      await this.#io(cmds.writeZeroes(nsid, start + BigInt(done), n), "Write Zeroes");
    }
  }

  /** Dataset Management, Deallocate (TRIM) of `count` blocks from `lba`. */
  async deallocate(nsid: number, lba: bigint | number, count: number): Promise<void> {
    const ns = this.namespace(nsid);
    this.#requireOncs(ONCS_DSM, "Dataset Management");
    const start = this.#checkRange(ns, lba, count);
    const ranges: cmds.DsmRange[] = [];
    for (let done = 0; done < count; done += 0xffffffff) {
      ranges.push({ lba: start + BigInt(done), blocks: Math.min(0xffffffff, count - done) });
    }
    const list = cmds.encodeDsmRanges(ranges);
    await this.#io(cmds.datasetManagement(nsid, ranges.length), "Dataset Management", {
      length: list.byteLength,
      out: list,
    });
  }

  /** Reads and decodes the SMART / Health Information log page. */
  smartLog(): Promise<SmartLog> {
    return this.controller.smartLog(this.#area);
  }

  /**
   * Any I/O command, unchecked, on I/O queue `queue` (default: round robin), with
   * `data` staged in a DMA slot. For tools and tests: the controller judges it.
   */
  ioCommand(
    cmd: NvmeCommand,
    what: string,
    data?: CommandData,
    queue?: number,
  ): Promise<{ completion: Completion; data?: Uint8Array }> {
    return this.#io(cmd, what, data, queue);
  }

  /** Any admin command, unchecked, with `data` staged in a DMA slot. */
  adminCommand(
    cmd: NvmeCommand,
    what: string,
    data?: CommandData,
  ): Promise<{ completion: Completion; data?: Uint8Array }> {
    return this.controller.submit(cmd, what, { area: this.#area, data });
  }

  /**
   * Live migration of the controller to `destination` under this driver, with I/O in
   * flight: see NvmeController.migrate. The driver carries on on the destination.
   */
  migrate(destination: DeviceHandle, options: MigrateOptions = {}): Promise<MigrationReport> {
    if (this.#closing) return Promise.reject(new VfioError("EBADF", "the NVMe driver is closed"));
    return this.controller.migrate(destination, options);
  }

  /** Deletes the queues, shuts the controller down and releases its memory. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // The controller frees the data area once no command can touch it any more.
    await this.controller.close();
  }

  #io(cmd: NvmeCommand, what: string, data?: CommandData, queue?: number) {
    if (this.#closing) return Promise.reject(new VfioError("EBADF", "the NVMe driver is closed"));
    if (this.#queues.length === 0) return Promise.reject(new VfioError("ENODEV", "no I/O queues"));
    const q =
      queue === undefined ? this.#queues[this.#next++ % this.#queues.length]! : this.#queues[queue];
    if (q === undefined)
      return Promise.reject(new VfioError("EINVAL", `no I/O queue index ${queue}`));
    return this.controller.submit(cmd, what, { queue: q, area: this.#area, data });
  }

  #checkRange(ns: NvmeNamespace, lba: bigint | number, count: number): bigint {
    const start = BigInt(lba);
    if (!Number.isSafeInteger(count) || count <= 0)
      throw new VfioError("EINVAL", `block count ${count} must be positive`);
    if (start < 0n || start + BigInt(count) > ns.blocks) {
      throw new VfioError(
        "EINVAL",
        `blocks [${start}, +${count}) are outside namespace ${ns.nsid} (${ns.blocks} blocks)`,
      );
    }
    return start;
  }

  #requireOncs(bit: number, what: string): void {
    if ((this.identity.controller.oncs & bit) === 0) {
      throw new VfioError("EOPNOTSUPP", `the controller does not support ${what} (ONCS)`);
    }
  }

  /** Runs `fn` for each piece of at most maxTransferBytes, all pieces at once. */
  async #split(
    ns: NvmeNamespace,
    start: bigint,
    count: number,
    fn: (lba: bigint, blocks: number, byteOffset: number) => Promise<void>,
  ): Promise<void> {
    const per = Math.min(65536, Math.max(1, Math.floor(this.maxTransferBytes / ns.blockSize)));
    const pieces: Promise<void>[] = [];
    for (let done = 0; done < count; done += per) {
      const n = Math.min(per, count - done);
      pieces.push(fn(start + BigInt(done), n, done * ns.blockSize));
    }
    const results = await Promise.allSettled(pieces);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }
}
