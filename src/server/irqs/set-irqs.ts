import { VfioError } from "../../errors.js";
import { irqIndexName } from "./irq-index.js";

/** The action bits of a SET_IRQS request. */
export type IrqAction = "mask" | "unmask" | "trigger";

/** The data part of a SET_IRQS request, after decoding. */
export type IrqSetData =
  | { readonly kind: "none" }
  /** One byte per sub-index of the range: act where non-zero. */
  | { readonly kind: "bool"; readonly values: Uint8Array }
  /**
   * Eventfds received with the message: exactly `count` of them (assign one per
   * sub-index), or none at all, which de-assigns the range. The second form is how
   * QEMU sends "-1" entries: a chunk of count N with no descriptors.
   */
  | { readonly kind: "eventfd"; readonly fds: readonly number[] };

export interface IrqSetRequest {
  readonly index: number;
  readonly start: number;
  readonly count: number;
  readonly action: IrqAction;
  readonly data: IrqSetData;
}

/**
 * The checks every SET_IRQS passes before any state changes, for an index with
 * `capacity` sub-indexes. Returns true for the special "disable this index" form
 * (DATA_NONE + TRIGGER, start 0, count 0), which is valid whatever the capacity.
 * - a zero count is only valid in that form;
 * - [start, start+count) must lie inside the capacity;
 * - BOOL needs `count` bytes of data; EVENTFD needs `count` descriptors or none;
 * - descriptors are only accepted with DATA_EVENTFD.
 */
export function checkIrqSet(req: IrqSetRequest, capacity: number, fdsReceived: number): boolean {
  const what = `SET_IRQS ${irqIndexName(req.index)}`;
  if (req.data.kind !== "eventfd" && fdsReceived !== 0) {
    throw new VfioError("EINVAL", `${what}: ${fdsReceived} descriptors sent without DATA_EVENTFD`);
  }
  if (req.count === 0) {
    if (req.start === 0 && req.action === "trigger" && req.data.kind === "none") return true;
    throw new VfioError(
      "EINVAL",
      `${what}: count 0 is only valid with DATA_NONE|ACTION_TRIGGER and start 0 (disable)`,
    );
  }
  if (capacity === 0) {
    throw new VfioError("EINVAL", `${what}: the device has no interrupts of this type`);
  }
  if (req.start >= capacity || req.start + req.count > capacity) {
    throw new VfioError(
      "EINVAL",
      `${what}: range [${req.start}, ${req.start + req.count}) exceeds the ${capacity} available`,
    );
  }
  if (req.data.kind === "bool" && req.data.values.byteLength < req.count) {
    throw new VfioError(
      "EINVAL",
      `${what}: DATA_BOOL carries ${req.data.values.byteLength} bytes for count ${req.count}`,
    );
  }
  if (req.data.kind === "eventfd") {
    const n = req.data.fds.length;
    if (n !== 0 && n !== req.count) {
      throw new VfioError(
        "EINVAL",
        `${what}: DATA_EVENTFD with ${n} descriptors for count ${req.count} (need ${req.count} or 0)`,
      );
    }
  }
  return false;
}
