import { type BodyCodec, type CommandCodec, type EmptyBody, emptyBody } from "../codec.js";
import {
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
} from "../constants.js";
import { ProtocolError } from "../protocol-error.js";
import { checkBytes } from "../writer.js";

/** Size of struct vfio_irq_set without data. */
export const SET_IRQS_SIZE = 20;

/** The action of a SET_IRQS (one of its ACTION flags). */
export type IrqSetAction = "mask" | "unmask" | "trigger";
/** The data type of a SET_IRQS (one of its DATA flags). */
export type IrqSetData = "none" | "bool" | "eventfd";

const ACTIONS: Record<IrqSetAction, number> = {
  mask: VFIO_IRQ_SET_ACTION_MASK,
  unmask: VFIO_IRQ_SET_ACTION_UNMASK,
  trigger: VFIO_IRQ_SET_ACTION_TRIGGER,
};
const DATAS: Record<IrqSetData, number> = {
  none: VFIO_IRQ_SET_DATA_NONE,
  bool: VFIO_IRQ_SET_DATA_BOOL,
  eventfd: VFIO_IRQ_SET_DATA_EVENTFD,
};
const ACTION_BY_BIT = new Map(Object.entries(ACTIONS).map(([k, v]) => [v, k as IrqSetAction]));
const DATA_BY_BIT = new Map(Object.entries(DATAS).map(([k, v]) => [v, k as IrqSetData]));

/**
 * VFIO_USER_DEVICE_SET_IRQS request:
 *   0 argsz u32 | 4 flags u32 | 8 index u32 | 12 start u32 | 16 count u32 | 20 data
 * flags = exactly one DATA bit | exactly one ACTION bit (the decoder splits them).
 * data: "bool" carries `count` bytes; "eventfd" carries the eventfds as SCM_RIGHTS, and
 * the decoder requires 0 fds (de-assign) or exactly `count`; other kinds carry no fds.
 * argsz is the request payload size including data (QEMU sends 20 for eventfd); only
 * argsz >= 20 is enforced. count 0 (with start 0) and "none" is the spec's "disable all";
 * that and range checks against the IRQ index are for the device layer.
 */
export interface SetIrqsRequest {
  argsz: number;
  action: IrqSetAction;
  data: IrqSetData;
  index: number;
  start: number;
  count: number;
  /** The booleans of data "bool" (one byte each, non-zero = act); absent otherwise. */
  bools?: Uint8Array;
}

function flagsOf(v: SetIrqsRequest): number {
  const a = Object.hasOwn(ACTIONS, v.action) ? ACTIONS[v.action] : undefined;
  const d = Object.hasOwn(DATAS, v.data) ? DATAS[v.data] : undefined;
  if (a === undefined || d === undefined) {
    throw new ProtocolError("EINVAL", `SET_IRQS: bad action/data ${v.action}/${v.data}`);
  }
  return a | d;
}

function dataSize(v: SetIrqsRequest): number {
  if ((v.data === "bool") !== (v.bools !== undefined)) {
    throw new ProtocolError("EINVAL", "SET_IRQS: bools must be present iff data is bool");
  }
  if (v.bools === undefined) return 0;
  const n = checkBytes(v.bools, "bools").byteLength;
  if (n !== v.count) throw new ProtocolError("EINVAL", `SET_IRQS: ${n} bools for count ${v.count}`);
  return n;
}

const request: BodyCodec<SetIrqsRequest> = {
  size: (v) => SET_IRQS_SIZE + dataSize(v),
  write(w, v) {
    w.u32(v.argsz, "argsz");
    w.u32(flagsOf(v), "flags");
    w.u32(v.index, "index");
    w.u32(v.start, "start");
    w.u32(v.count, "count");
    if (v.bools) w.bytes(v.bools, "data");
  },
  read(r, ctx) {
    r.expectAtLeast(SET_IRQS_SIZE);
    const argsz = r.u32("argsz");
    const flags = r.u32("flags");
    const index = r.u32("index");
    const start = r.u32("start");
    const count = r.u32("count");
    const action = ACTION_BY_BIT.get(flags & VFIO_IRQ_SET_ACTION_TYPE_MASK);
    const data = DATA_BY_BIT.get(flags & VFIO_IRQ_SET_DATA_TYPE_MASK);
    if ((flags & ~(VFIO_IRQ_SET_ACTION_TYPE_MASK | VFIO_IRQ_SET_DATA_TYPE_MASK)) !== 0) {
      r.fail(`unknown flags 0x${flags.toString(16)}`);
    }
    if (action === undefined) {
      return r.fail(`flags 0x${flags.toString(16)} need exactly one ACTION bit`);
    }
    if (data === undefined)
      return r.fail(`flags 0x${flags.toString(16)} need exactly one DATA bit`);
    if (argsz < SET_IRQS_SIZE) r.fail(`argsz ${argsz} is below ${SET_IRQS_SIZE}`);
    if (start + count > 0x100000000) r.fail(`start ${start} + count ${count} overflows`);
    const v: SetIrqsRequest = { argsz, action, data, index, start, count };
    if (data === "bool") {
      r.expectLength(SET_IRQS_SIZE + count);
      v.bools = r.bytes(count, "data");
    }
    if (data === "eventfd") {
      if (ctx.numFds !== 0 && ctx.numFds !== count) {
        r.fail(`${ctx.numFds} eventfds for count ${count} (need 0 or count)`);
      }
    } else if (ctx.numFds !== 0) {
      r.fail(`${ctx.numFds} file descriptors without DATA_EVENTFD`);
    }
    return v;
  },
};

/** Codec of VFIO_USER_DEVICE_SET_IRQS. */
export const setIrqsCodec: CommandCodec<SetIrqsRequest, EmptyBody> = {
  request,
  reply: emptyBody,
};
