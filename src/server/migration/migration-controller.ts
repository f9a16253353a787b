/**
 * One device's migration: its state in the v2 state machine, the data stream of the
 * current saving or resuming session, and the quiescing of the device while it is
 * stopped (no handlers, DMA refused, interrupts and callbacks held for later).
 *
 * It lives with the device, not the connection: the spec keeps device state across a
 * client's disconnection, and the migration state is device state.
 */
import { VfioError } from "../../errors.js";
import type { ConfigSpace } from "../../pci/index.js";
import {
  VFIO_DEVICE_STATE_ERROR,
  VFIO_DEVICE_STATE_PRE_COPY,
  VFIO_DEVICE_STATE_RESUMING,
  VFIO_DEVICE_STATE_RUNNING,
  VFIO_DEVICE_STATE_STOP,
  VFIO_DEVICE_STATE_STOP_COPY,
  VFIO_MIGRATION_PRE_COPY,
  VFIO_MIGRATION_STOP_COPY,
} from "../../protocol/index.js";
import type { DeviceContext, MigrationDefinition } from "../device.js";
import type { IrqController } from "../irqs/irq-controller.js";
import type { MsixTable } from "../msix-table.js";
import { decodeFrameworkState, encodeFrameworkState } from "./framework-state.js";
import {
  isRunning,
  isSaving,
  type MigArc,
  type MigState,
  migrationPath,
  migStateName,
} from "./state-machine.js";
import {
  DEFAULT_MAX_DATA,
  DEFAULT_MAX_RECORD,
  IncomingStream,
  OutgoingStream,
  RECORD_HEADER,
  RecordKind,
} from "./stream.js";

/** What the controller needs of the device core. */
export interface MigrationHost {
  readonly name: string;
  readonly config: ConfigSpace;
  readonly msixTable: MsixTable | undefined;
  readonly irqs: IrqController;
  readonly context: DeviceContext;
  /** Resolves once no DMA access of the device is in flight. */
  dmaIdle(): Promise<void> | undefined;
  /** Resolves once the device's background tasks (DeviceContext.tasks) have finished. */
  tasksIdle(): Promise<void>;
  /** A config change the device was not told about while stopped. */
  commandChanged(command: number, previous: number): void;
  /** The device runs again: deliver the callbacks held while it was stopped (HeldEvents). */
  deliverHeld(): void;
  readonly log: { warn(m: string): void; debug(m: string): void };
}

export interface MigrationStats {
  readonly state: MigState;
  /** Bytes of migration data read by the client in this saving session. */
  readonly bytesOut: number;
  /** Bytes of migration data written by the client in this resuming session. */
  readonly bytesIn: number;
}

export class MigrationController {
  readonly #host: MigrationHost;
  readonly #def: MigrationDefinition | undefined;
  #state: MigState = VFIO_DEVICE_STATE_RUNNING;
  #out: OutgoingStream | undefined;
  #in: IncomingStream | undefined;
  /** Held while stopped: interrupts the device raised (callbacks: the host's HeldEvents). */
  #deferredVectors = new Set<number>();
  #deferredIntx: boolean | undefined;
  /** PCI_COMMAND when the device stopped, to tell it of changes when it runs again. */
  #commandAtStop = 0;
  /**
   * STOP_COPY of a device with `precopy.remainder`: the framework's and the device's
   * records, held until the remainder has been read.
   */
  #final: { framework: Uint8Array; device: Uint8Array } | undefined;
  /** Serialises state changes, reads and writes: one client, in order, but handlers await. */
  #busy: Promise<unknown> = Promise.resolve();

  constructor(host: MigrationHost, def: MigrationDefinition | undefined) {
    const max = def?.maxDataBytes;
    if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) {
      throw new VfioError(
        "EINVAL",
        `${host.name}: migration.maxDataBytes must be a positive integer, got ${max}`,
      );
    }
    this.#host = host;
    this.#def = def;
  }

  get supported(): boolean {
    return this.#def !== undefined;
  }

  /** VFIO_DEVICE_FEATURE_MIGRATION flags. */
  get flags(): bigint {
    if (!this.#def) return 0n;
    return VFIO_MIGRATION_STOP_COPY | (this.#def.precopy ? VFIO_MIGRATION_PRE_COPY : 0n);
  }

  /** PCI_COMMAND as the device last heard of it: the value at its stop while stopped. */
  commandKnownToDevice(current: number): number {
    return this.running ? current : this.#commandAtStop;
  }

  get state(): MigState {
    return this.#state;
  }

  /** False while the device must not operate (no handlers, DMA, interrupts). */
  get running(): boolean {
    return isRunning(this.#state);
  }

  get stats(): MigrationStats {
    return { state: this.#state, bytesOut: this.#out?.sent ?? 0, bytesIn: this.#in?.received ?? 0 };
  }

  // --- what the device's facades ask while it is stopped ---

  /** An interrupt raised while stopped: held, delivered when the device runs again. */
  deferVector(vector: number): void {
    this.#deferredVectors.add(vector);
  }

  deferIntx(level: boolean): void {
    this.#deferredIntx = level;
  }

  // --- the client's side ---

  /** MIG_DEVICE_STATE SET: walks the path arc by arc; an arc's failure ends the walk. */
  setState(to: number): Promise<MigState> {
    return this.#serial(async () => {
      this.#require();
      const path = migrationPath(this.#state, to, this.#def?.precopy !== undefined);
      if (path === undefined) {
        throw new VfioError(
          "EINVAL",
          `${this.#host.name}: no migration arc from ${migStateName(this.#state)} to ${migStateName(to)}`,
        );
      }
      for (const arc of path) await this.#arc(arc);
      return this.#state;
    });
  }

  /** MIG_DATA_READ: up to `max` bytes; fewer means no more for now (PRE_COPY) or at all. */
  read(max: number): Promise<Uint8Array> {
    return this.#serial(async () => {
      this.#require();
      if (!isSaving(this.#state) || this.#out === undefined) {
        throw new VfioError(
          "EINVAL",
          `MIG_DATA_READ in ${migStateName(this.#state)} (only PRE_COPY and STOP_COPY have data)`,
        );
      }
      const precopy = this.#def?.precopy;
      if (this.#state === VFIO_DEVICE_STATE_PRE_COPY && precopy) {
        // Ask the device only for what fits in this read with its record header, and
        // hand out whole records: the STOP_COPY data then starts at a record boundary
        // however much of the PRE_COPY data the client read (see stream.ts).
        for (;;) {
          const room = max - this.#out.pending - RECORD_HEADER;
          if (room <= 0) break;
          const chunk = await precopy.read(room, this.#host.context);
          if (!(chunk instanceof Uint8Array)) {
            throw new VfioError("EIO", `${this.#host.name}: precopy.read did not return bytes`);
          }
          if (chunk.byteLength === 0) break;
          this.#out.pushRecord(RecordKind.PRECOPY, chunk);
        }
        return this.#out.takeWhole(max);
      }
      if (this.#state === VFIO_DEVICE_STATE_STOP_COPY && this.#final && precopy?.remainder) {
        while (this.#out.pending < max) {
          const chunk = await precopy.remainder(max - this.#out.pending, this.#host.context);
          if (!(chunk instanceof Uint8Array)) {
            throw new VfioError(
              "EIO",
              `${this.#host.name}: precopy.remainder did not return bytes`,
            );
          }
          if (chunk.byteLength === 0) {
            this.#out.pushRecord(RecordKind.FRAMEWORK, this.#final.framework);
            this.#out.pushRecord(RecordKind.DEVICE, this.#final.device);
            this.#out.pushRecord(RecordKind.END);
            this.#final = undefined;
            break;
          }
          this.#out.pushRecord(RecordKind.PRECOPY, chunk);
        }
      }
      return this.#out.take(max);
    });
  }

  /** MIG_DATA_WRITE: more of the stream, parsed as it comes. */
  write(data: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      this.#require();
      if (this.#state !== VFIO_DEVICE_STATE_RESUMING || this.#in === undefined) {
        throw new VfioError(
          "EINVAL",
          `MIG_DATA_WRITE in ${migStateName(this.#state)} (only RESUMING takes data)`,
        );
      }
      this.#in.write(data);
    });
  }

  /**
   * DEVICE_RESET (the only way out of ERROR): back to RUNNING with no data session.
   * Held interrupts are dropped: the device is starting over. Returns
   * whether the device had been stopped (so its `start` hook runs after its reset).
   */
  reset(): boolean {
    const wasStopped = !this.running;
    this.#state = VFIO_DEVICE_STATE_RUNNING;
    this.#out = undefined;
    this.#in = undefined;
    this.#final = undefined;
    this.#deferredVectors.clear();
    this.#deferredIntx = undefined;
    return wasStopped;
  }

  /** Runs the device's start hook (after a reset that found it stopped). */
  async startDevice(): Promise<void> {
    await this.#def?.start?.(this.#host.context);
  }

  #require(): void {
    if (!this.#def) {
      throw new VfioError("ENOTTY", `${this.#host.name} does not support migration`);
    }
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(f, f);
    this.#busy = run.catch(() => {});
    return run;
  }

  async #arc([from, to]: MigArc): Promise<void> {
    const host = this.#host;
    const def = this.#def!;
    const dev = host.context;
    host.log.debug(`${host.name}: migration ${migStateName(from)} -> ${migStateName(to)}`);
    switch (to) {
      case VFIO_DEVICE_STATE_STOP:
        if (from === VFIO_DEVICE_STATE_RUNNING) await this.#quiesce();
        else if (from === VFIO_DEVICE_STATE_RESUMING) await this.#resume();
        else {
          this.#out = undefined; // STOP_COPY -> STOP ends the data session
          this.#final = undefined;
        }
        break;
      case VFIO_DEVICE_STATE_RUNNING:
        if (from === VFIO_DEVICE_STATE_PRE_COPY) {
          this.#out = undefined;
        } else {
          this.#state = to; // handlers and DMA flow again before the replayed work runs
          this.#release();
          await def.start?.(dev);
        }
        break;
      case VFIO_DEVICE_STATE_PRE_COPY:
        this.#out = new OutgoingStream();
        await def.precopy?.begin?.(dev);
        break;
      case VFIO_DEVICE_STATE_STOP_COPY: {
        if (from === VFIO_DEVICE_STATE_PRE_COPY) await this.#quiesce();
        else await def.precopy?.begin?.(dev); // no pre-copy ran: everything is still to send
        // After PRE_COPY the records the client has not read yet go on, in a segment
        // of their own: the STOP_COPY data is whole even to a destination that got
        // none of the PRE_COPY data.
        let out: OutgoingStream;
        if (from === VFIO_DEVICE_STATE_PRE_COPY && this.#out) {
          out = this.#out;
          out.startSegment();
        } else out = new OutgoingStream();
        const saved = await def.save(dev);
        if (!(saved instanceof Uint8Array)) {
          throw new VfioError("EIO", `${host.name}: migration save() did not return bytes`);
        }
        const framework = this.#frameworkState();
        if (def.precopy?.remainder) {
          // read() sends the remainder first, then these.
          this.#final = { framework, device: saved };
        } else {
          out.pushRecord(RecordKind.FRAMEWORK, framework);
          out.pushRecord(RecordKind.DEVICE, saved);
          out.pushRecord(RecordKind.END);
        }
        this.#out = out;
        // A failed save leaves the device stopped and valid: PRE_COPY -> STOP_COPY
        // failing after the quiesce lands in STOP.
        break;
      }
      case VFIO_DEVICE_STATE_RESUMING:
        this.#in = new IncomingStream(
          DEFAULT_MAX_RECORD,
          this.#def!.maxDataBytes ?? DEFAULT_MAX_DATA,
        );
        break;
    }
    this.#state = to;
  }

  /**
   * Leaving a running state. The device's stop() runs first, while its DMA and
   * interrupts still flow, so work in flight can finish ("in-flight I/O completed");
   * the framework waits for its background tasks, then closes the gate (handlers,
   * DMA, interrupts) and waits for DMA accesses still in flight. No client command
   * runs meanwhile: this one holds the queue.
   */
  async #quiesce(): Promise<void> {
    try {
      await this.#def!.stop?.(this.#host.context);
      await this.#host.tasksIdle();
    } catch (err) {
      this.#state = VFIO_DEVICE_STATE_ERROR;
      throw new VfioError("EIO", `${this.#host.name}: migration stop() failed: ${message(err)}`, {
        cause: err,
      });
    }
    this.#state = VFIO_DEVICE_STATE_STOP;
    this.#commandAtStop = this.#host.config.command;
    await this.#host.dmaIdle();
  }

  /** Back to a running state: what was held while stopped happens now, in order. */
  #release(): void {
    const host = this.#host;
    const command = host.config.command;
    if (command !== this.#commandAtStop) host.commandChanged(command, this.#commandAtStop);
    host.deliverHeld();
    const intx = this.#deferredIntx;
    this.#deferredIntx = undefined;
    if (intx !== undefined) host.irqs.intx.setLevel(intx);
    const vectors = [...this.#deferredVectors];
    this.#deferredVectors.clear();
    for (const v of vectors) {
      try {
        host.irqs.trigger(v);
      } catch (err) {
        host.log.warn(`${host.name}: held interrupt ${v} not delivered: ${message(err)}`);
      }
    }
  }

  /**
   * RESUMING -> STOP: the stream must be whole and well formed before anything is
   * applied (else EINVAL and the device stays RESUMING, unchanged). Applying it may
   * still fail (the device refuses its state): then ERROR, as nothing valid is left.
   */
  async #resume(): Promise<void> {
    const stream = this.#in!;
    if (stream.failure) throw stream.failure;
    if (!stream.ended) {
      throw new VfioError(
        "EINVAL",
        `${this.#host.name}: migration data incomplete (${stream.received} bytes, no END record)`,
      );
    }
    const framework = stream.records.filter((r) => r.kind === RecordKind.FRAMEWORK);
    const device = stream.records.filter((r) => r.kind === RecordKind.DEVICE);
    const last = stream.records.slice(-2).map((r) => r.kind);
    if (
      framework.length !== 1 ||
      device.length !== 1 ||
      last[0] !== RecordKind.FRAMEWORK ||
      last[1] !== RecordKind.DEVICE
    ) {
      throw new VfioError(
        "EINVAL",
        `${this.#host.name}: migration data has ${framework.length} framework and ${device.length} device records, not one of each at the end`,
      );
    }
    const fw = decodeFrameworkState(framework[0]!.payload);
    const initial = this.#host.config.initialImage();
    if (!sameBytes(fw.initialConfig, initial)) {
      throw new VfioError(
        "EINVAL",
        `${this.#host.name}: migration data comes from a different device (config space identity differs)`,
      );
    }
    const precopy = stream.records.filter((r) => r.kind === RecordKind.PRECOPY);
    if (precopy.length > 0 && !this.#def!.precopy) {
      throw new VfioError(
        "EINVAL",
        `${this.#host.name}: pre-copy data, but the device has no pre-copy`,
      );
    }
    this.#in = undefined;
    try {
      this.#applyFramework(fw);
      const dev = this.#host.context;
      for (const r of precopy) await this.#def!.precopy!.load(r.payload, dev);
      await this.#def!.load(device[0]!.payload, dev);
    } catch (err) {
      this.#state = VFIO_DEVICE_STATE_ERROR;
      if (err instanceof VfioError) throw err;
      throw new VfioError("EINVAL", `${this.#host.name}: migration load failed: ${message(err)}`, {
        cause: err,
      });
    }
  }

  #frameworkState(): Uint8Array {
    const host = this.#host;
    const msix = host.msixTable?.snapshot();
    return encodeFrameworkState({
      initialConfig: host.config.initialImage(),
      liveConfig: host.config.snapshot(),
      msixTable: msix?.table ?? new Uint8Array(0),
      msixPba: msix?.pba ?? new Uint8Array(0),
      intxLevel: host.irqs.intx.level,
      deferredIntx: this.#deferredIntx === true,
      deferredVectors: [...this.#deferredVectors],
    });
  }

  #applyFramework(fw: ReturnType<typeof decodeFrameworkState>): void {
    const host = this.#host;
    host.config.restore(fw.liveConfig);
    if (host.msixTable) host.msixTable.restore(fw.msixTable, fw.msixPba);
    else if (fw.msixTable.byteLength > 0)
      throw new VfioError("EINVAL", "MSI-X state for a device without MSI-X");
    host.irqs.setIntxDisabled(host.config.intxDisabled);
    const msix = host.config.msix();
    if (msix) host.irqs.setMsixFunctionMask(msix.functionMask);
    // Interrupts wait for the device to run; the level is re-raised then.
    this.#deferredIntx = fw.intxLevel || fw.deferredIntx ? true : undefined;
    this.#deferredVectors = new Set(fw.deferredVectors);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

function message(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}
