/**
 * How the NVMe controller migrates (the device SDK's MigrationDefinition):
 *
 * - stop: fetching pauses between commands; every command already fetched runs to its
 *   completion, which is posted (DMA and interrupts still work then). Nothing is carried
 *   half done: what moves is rings, pointers and registers. Commands the host rang in
 *   but the controller had not fetched stay in the SQ and are fetched on the
 *   destination.
 * - save/load: the state of migration-state.ts, checked against this controller (same
 *   queue count, MDTS and namespace size, block size and kind of storage). A refusal is
 *   logged on the device's log and thrown: the device goes to ERROR.
 * - precopy (memory namespaces only): the namespace's memory, see memory-migration.ts.
 *   A file namespace is shared storage: both servers open the same file.
 */
import { VfioError } from "../../errors.js";
import type { DeviceContext, MigrationDefinition } from "../../server/index.js";
import { MemoryBacking } from "./backing.js";
import type { NvmeController } from "./controller.js";
import { MemoryMigration } from "./memory-migration.js";
import {
  type ControllerState,
  decodeControllerState,
  encodeControllerState,
} from "./migration-state.js";
import { CompletionQueue, SubmissionQueue } from "./queues.js";

/** The migration of `ctrl`; `bind` gives the controller its device context first. */
export function nvmeMigration(
  ctrl: NvmeController,
  bind: (dev: DeviceContext) => void,
): MigrationDefinition {
  const ns = ctrl.namespaces.get(1)!;
  const memory =
    ns.backing instanceof MemoryBacking ? new MemoryMigration(ns.backing, ns.blockSize) : undefined;
  const refusing = <T>(dev: DeviceContext, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      dev.log.warn(`nvme: migration state refused: ${(err as Error).message}`);
      throw err;
    }
  };
  return {
    // A memory namespace arrives as pre-copy data, and units the guest wrote after they
    // were sent come again: room for the namespace three times over, plus the state.
    ...(memory === undefined ? {} : { maxDataBytes: 3 * ns.backing.size + MIGRATION_STATE_ROOM }),
    stop: (dev) => {
      bind(dev);
      return ctrl.quiesce();
    },
    start: (dev) => {
      bind(dev);
      ctrl.resume();
    },
    save: (dev) => {
      bind(dev);
      return encodeControllerState(captureState(ctrl));
    },
    load: (bytes, dev) => {
      bind(dev);
      refusing(dev, () => {
        const state = decodeControllerState(bytes);
        if (memory && state.namespace.backing === "memory" && !memory.complete) {
          throw new VfioError(
            "EINVAL",
            memory.started
              ? "the namespace's memory did not all arrive (no end mark)"
              : "the namespace's memory did not arrive (was the pre-copy data dropped?)",
          );
        }
        applyState(ctrl, state);
      });
    },
    precopy:
      memory === undefined
        ? undefined
        : {
            begin: () => memory.begin(),
            read: (max) => memory.read(max),
            remainder: (max) => memory.remainder(max),
            load: async (chunk, dev) => {
              try {
                await memory.load(chunk);
              } catch (err) {
                dev.log.warn(`nvme: migration data refused: ${(err as Error).message}`);
                throw err;
              }
            },
          },
  };
}

/** Room for the controller's own state and the framework's in a stream's limit. */
const MIGRATION_STATE_ROOM = 64 * 1024 * 1024;

/** The controller's state now (it is stopped: nothing changes under it). */
export function captureState(ctrl: NvmeController): ControllerState {
  const ns = ctrl.namespaces.get(1)!;
  const features = ctrl.features.snapshot();
  const events = ctrl.events.snapshot();
  const errors = ctrl.errors.snapshot();
  const h = ctrl.health;
  return {
    maxIoQueues: ctrl.maxIoQueues,
    mdts: ctrl.identity.mdts,
    registers: ctrl.registers,
    namespace: {
      backing: ns.backing instanceof MemoryBacking ? "memory" : "file",
      size: ns.backing.size,
      blockSize: ns.blockSize,
    },
    cqs: [...ctrl.cqs.values()].map((cq) => ({
      id: cq.id,
      base: cq.base,
      size: cq.size,
      vector: cq.vector,
      ien: cq.ien,
      head: cq.head,
      tail: cq.tail,
      phase: cq.phase,
      waiting: cq.waiting,
    })),
    sqs: [...ctrl.sqs.values()].map((sq) => ({
      id: sq.id,
      base: sq.base,
      size: sq.size,
      cqid: sq.cq.id,
      head: sq.head,
      tail: sq.tail,
    })),
    features,
    aerCids: events.held,
    events: events.queued,
    errorCount: errors.count,
    errors: errors.entries,
    health: {
      bytesRead: h.bytesRead,
      bytesWritten: h.bytesWritten,
      readCommands: h.readCommands,
      writeCommands: h.writeCommands,
      mediaErrors: h.mediaErrors,
    },
  };
}

function refuse(message: string): never {
  throw new VfioError("EINVAL", `NVMe migration state: ${message}`);
}

/**
 * Checks `s` against this controller (the decoder checked it on its own) and takes it:
 * registers, queues, features, held AERs and events, logs and counters.
 */
export function applyState(ctrl: NvmeController, s: ControllerState): void {
  const ns = ctrl.namespaces.get(1)!;
  const kind = ns.backing instanceof MemoryBacking ? "memory" : "file";
  if (s.namespace.backing !== kind) {
    refuse(
      s.namespace.backing === "file"
        ? "the source's namespace is a file (shared storage), this one is in memory"
        : "the source's namespace is in memory, this one is a file: its data would not move",
    );
  }
  if (s.namespace.size !== ns.backing.size || s.namespace.blockSize !== ns.blockSize) {
    refuse(
      `the source's namespace is ${s.namespace.size} bytes in ${s.namespace.blockSize}-byte ` +
        `blocks, this one ${ns.backing.size} bytes in ${ns.blockSize}-byte blocks: not the same storage`,
    );
  }
  if (s.maxIoQueues !== ctrl.maxIoQueues || s.mdts !== ctrl.identity.mdts) {
    refuse(
      `the source offers ${s.maxIoQueues} I/O queues with MDTS ${s.mdts}, ` +
        `this controller ${ctrl.maxIoQueues} with MDTS ${ctrl.identity.mdts}`,
    );
  }
  const vectors = ctrl.maxIoQueues + 1;
  for (const q of [...s.cqs, ...s.sqs]) {
    if (q.id > ctrl.maxIoQueues) refuse(`queue ${q.id} beyond the ${ctrl.maxIoQueues} I/O queues`);
  }
  for (const cq of s.cqs) {
    if (cq.vector >= vectors) refuse(`CQ ${cq.id} uses vector ${cq.vector} of ${vectors}`);
  }
  for (const [iv] of s.features.vectorConfig) {
    if (iv >= vectors) refuse(`interrupt vector configuration of vector ${iv} of ${vectors}`);
  }
  if (s.aerCids.length > ctrl.events.limit) {
    refuse(`${s.aerCids.length} AERs held, the limit is ${ctrl.events.limit}`);
  }
  if (s.errors.length > ctrl.errors.capacity) {
    refuse(`${s.errors.length} error log entries, the log holds ${ctrl.errors.capacity}`);
  }
  ctrl.restoreRegisters(s.registers);
  for (const q of s.cqs) {
    const cq = new CompletionQueue(ctrl, q.id, q.base, q.size, q.vector, q.ien);
    cq.head = q.head;
    cq.tail = q.tail;
    cq.phase = q.phase;
    ctrl.cqs.set(q.id, cq);
  }
  for (const q of s.sqs) {
    const cq = ctrl.cqs.get(q.cqid)!;
    const sq = new SubmissionQueue(q.id, q.base, q.size, cq);
    sq.head = q.head;
    sq.tail = q.tail;
    cq.sqs.add(q.id);
    ctrl.sqs.set(q.id, sq);
  }
  for (const q of s.cqs) ctrl.cqs.get(q.id)!.restoreWaiting(q.waiting, ctrl.sqs);
  ctrl.features.restore(s.features);
  ctrl.events.restore({ held: s.aerCids, queued: s.events });
  ctrl.errors.restore({ count: s.errorCount, entries: s.errors });
  const h = ctrl.health;
  h.bytesRead = s.health.bytesRead;
  h.bytesWritten = s.health.bytesWritten;
  h.readCommands = s.health.readCommands;
  h.writeCommands = s.health.writeCommands;
  h.mediaErrors = s.health.mediaErrors;
}
