/**
 * The migration v2 device state machine of the vfio-user spec (and <linux/vfio.h>):
 * which states exist, which arcs a server executes directly, and the path it takes
 * for any other requested change. Pure: the controller walks the path and runs each
 * arc's action, so every arc and every path is testable without a device.
 */
import {
  VFIO_DEVICE_STATE_ERROR,
  VFIO_DEVICE_STATE_PRE_COPY,
  VFIO_DEVICE_STATE_PRE_COPY_P2P,
  VFIO_DEVICE_STATE_RESUMING,
  VFIO_DEVICE_STATE_RUNNING,
  VFIO_DEVICE_STATE_RUNNING_P2P,
  VFIO_DEVICE_STATE_STOP,
  VFIO_DEVICE_STATE_STOP_COPY,
} from "../../protocol/index.js";

/** A vfio_device_mig_state value vfio-user uses (the P2P states are not among them). */
export type MigState =
  | typeof VFIO_DEVICE_STATE_ERROR
  | typeof VFIO_DEVICE_STATE_STOP
  | typeof VFIO_DEVICE_STATE_RUNNING
  | typeof VFIO_DEVICE_STATE_STOP_COPY
  | typeof VFIO_DEVICE_STATE_RESUMING
  | typeof VFIO_DEVICE_STATE_PRE_COPY;

export const MIG_STATE_NAMES: Readonly<Record<number, string>> = {
  [VFIO_DEVICE_STATE_ERROR]: "ERROR",
  [VFIO_DEVICE_STATE_STOP]: "STOP",
  [VFIO_DEVICE_STATE_RUNNING]: "RUNNING",
  [VFIO_DEVICE_STATE_STOP_COPY]: "STOP_COPY",
  [VFIO_DEVICE_STATE_RESUMING]: "RESUMING",
  [VFIO_DEVICE_STATE_RUNNING_P2P]: "RUNNING_P2P",
  [VFIO_DEVICE_STATE_PRE_COPY]: "PRE_COPY",
  [VFIO_DEVICE_STATE_PRE_COPY_P2P]: "PRE_COPY_P2P",
};

/** The kernel's name of a migration state ("STOP_COPY"), or "state n". */
export function migStateName(s: number): string {
  return MIG_STATE_NAMES[s] ?? `state ${s}`;
}

/** States in which the device operates (handlers run, DMA and interrupts flow). */
export function isRunning(s: MigState): boolean {
  return s === VFIO_DEVICE_STATE_RUNNING || s === VFIO_DEVICE_STATE_PRE_COPY;
}

/** The "saving group": migration data can be read. */
export function isSaving(s: MigState): boolean {
  return s === VFIO_DEVICE_STATE_PRE_COPY || s === VFIO_DEVICE_STATE_STOP_COPY;
}

/** The arcs the spec's "Direct State Transitions" list, each with its action. */
const DIRECT_ARCS: readonly (readonly [MigState, MigState])[] = [
  [VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP],
  [VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_STOP],
  [VFIO_DEVICE_STATE_RESUMING, VFIO_DEVICE_STATE_STOP],
  [VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_RUNNING],
  [VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING],
  [VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_PRE_COPY],
  [VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_STOP_COPY],
  [VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_STOP_COPY],
  [VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RESUMING],
];

/** One direct transition between two migration states. */
export type MigArc = readonly [MigState, MigState];

/**
 * The arcs from `from` to `to`, shortest first, with no saving state in the interior
 * (the spec's rules for complex transitions). Empty when from === to. Undefined when
 * no path exists: a request for ERROR or a P2P state, STOP_COPY -> PRE_COPY, anything
 * out of ERROR (only a reset leaves it), or PRE_COPY when the device has no pre-copy.
 */
export function migrationPath(from: MigState, to: number, preCopy: boolean): MigArc[] | undefined {
  if (from === to) return [];
  if (!isTarget(to, preCopy) || from === VFIO_DEVICE_STATE_ERROR) return undefined;
  // Explicitly refused by the spec, although STOP_COPY -> STOP -> RUNNING -> PRE_COPY
  // would obey the path rules: once stop-copy began, pre-copy data would be stale.
  if (from === VFIO_DEVICE_STATE_STOP_COPY && to === VFIO_DEVICE_STATE_PRE_COPY) return undefined;
  const arcs = DIRECT_ARCS.filter(
    ([a, b]) => preCopy || (a !== VFIO_DEVICE_STATE_PRE_COPY && b !== VFIO_DEVICE_STATE_PRE_COPY),
  );
  // Breadth-first: the first path found is a shortest one. Saving states may only end a path.
  const seen = new Map<MigState, MigArc[]>([[from, []]]);
  const queue: MigState[] = [from];
  while (queue.length > 0) {
    const at = queue.shift()!;
    const path = seen.get(at)!;
    if (at !== from && isSaving(at)) continue;
    for (const arc of arcs) {
      if (arc[0] !== at || seen.has(arc[1])) continue;
      const next = [...path, arc];
      if (arc[1] === to) return next;
      seen.set(arc[1], next);
      queue.push(arc[1]);
    }
  }
  return undefined;
}

function isTarget(s: number, preCopy: boolean): s is MigState {
  switch (s) {
    case VFIO_DEVICE_STATE_STOP:
    case VFIO_DEVICE_STATE_RUNNING:
    case VFIO_DEVICE_STATE_STOP_COPY:
    case VFIO_DEVICE_STATE_RESUMING:
      return true;
    case VFIO_DEVICE_STATE_PRE_COPY:
      return preCopy;
    default:
      return false;
  }
}
