import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Command,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
} from "../../src/protocol/constants.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import type { IrqSetAction, IrqSetData } from "../../src/protocol/messages/set-irqs.js";
import { bytes, throwsProtocol, u32 } from "./bytes.js";

const SET = Command.VFIO_USER_DEVICE_SET_IRQS;

const actions: [IrqSetAction, number][] = [
  ["mask", VFIO_IRQ_SET_ACTION_MASK],
  ["unmask", VFIO_IRQ_SET_ACTION_UNMASK],
  ["trigger", VFIO_IRQ_SET_ACTION_TRIGGER],
];
const datas: [IrqSetData, number][] = [
  ["none", VFIO_IRQ_SET_DATA_NONE],
  ["bool", VFIO_IRQ_SET_DATA_BOOL],
  ["eventfd", VFIO_IRQ_SET_DATA_EVENTFD],
];

function wire(
  argsz: number,
  flags: number,
  index: number,
  start: number,
  count: number,
  data: number[] = [],
) {
  return bytes(u32(argsz), u32(flags), u32(index), u32(start), u32(count), data);
}

describe("DEVICE_SET_IRQS", () => {
  for (const [action, abit] of actions) {
    for (const [data, dbit] of datas) {
      it(`${action} x ${data}: argsz 0, flags 4, index 8, start 12, count 16, data 20`, () => {
        const bools = data === "bool" ? [1, 0, 1] : [];
        const w = wire(20 + bools.length, abit | dbit, 2, 5, 3, bools);
        const msg = {
          argsz: 20 + bools.length,
          action,
          data,
          index: 2,
          start: 5,
          count: 3,
          ...(data === "bool" ? { bools: Uint8Array.from(bools) } : {}),
        };
        const numFds = data === "eventfd" ? 3 : 0;
        assert.deepEqual(decodeRequest(SET, w, { numFds }), msg);
        assert.deepEqual(encodeRequest(SET, msg), w);
      });
    }
  }

  it("needs exactly one action bit and one data bit, no others", () => {
    const t = VFIO_IRQ_SET_ACTION_TRIGGER;
    const n = VFIO_IRQ_SET_DATA_NONE;
    throwsProtocol(() => decodeRequest(SET, wire(20, n, 0, 0, 1)), "EINVAL", /ACTION/);
    throwsProtocol(() => decodeRequest(SET, wire(20, t, 0, 0, 1)), "EINVAL", /DATA/);
    throwsProtocol(
      () => decodeRequest(SET, wire(20, t | VFIO_IRQ_SET_ACTION_MASK | n, 0, 0, 1)),
      "EINVAL",
      /ACTION/,
    );
    throwsProtocol(
      () => decodeRequest(SET, wire(20, t | n | VFIO_IRQ_SET_DATA_BOOL, 0, 0, 0)),
      "EINVAL",
      /DATA/,
    );
    throwsProtocol(
      () => decodeRequest(SET, wire(20, t | n | 0x40, 0, 0, 1)),
      "EINVAL",
      /unknown flags/,
    );
  });

  it("bool data must be exactly count bytes", () => {
    const f = VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_DATA_BOOL;
    throwsProtocol(() => decodeRequest(SET, wire(22, f, 0, 0, 3, [1, 1])), "EINVAL", /expected 23/);
    throwsProtocol(
      () => decodeRequest(SET, wire(24, f, 0, 0, 3, [1, 1, 1, 1])),
      "EINVAL",
      /expected 23/,
    );
    throwsProtocol(() => decodeRequest(SET, wire(20, f, 0, 0, 0xffffffff)), "EINVAL", /expected/);
  });

  it("eventfd: 0 fds (de-assign) or exactly count; other data kinds carry none", () => {
    const f = VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_EVENTFD;
    assert.equal(decodeRequest(SET, wire(20, f, 1, 0, 4), { numFds: 0 }).count, 4);
    assert.equal(decodeRequest(SET, wire(20, f, 1, 0, 4), { numFds: 4 }).count, 4);
    throwsProtocol(
      () => decodeRequest(SET, wire(20, f, 1, 0, 4), { numFds: 3 }),
      "EINVAL",
      /3 eventfds for count 4/,
    );
    throwsProtocol(
      () => decodeRequest(SET, wire(20, f, 1, 0, 4), { numFds: 5 }),
      "EINVAL",
      /5 eventfds/,
    );
    const none = VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_NONE;
    throwsProtocol(
      () => decodeRequest(SET, wire(20, none, 1, 0, 1), { numFds: 1 }),
      "EINVAL",
      /without DATA_EVENTFD/,
    );
    throwsProtocol(
      () => decodeRequest(SET, wire(20, f, 1, 0, 1, [0, 0, 0, 0]), { numFds: 1 }),
      "EINVAL",
      /trailing/,
    );
  });

  it("rejects argsz below 20 and start+count past 2^32", () => {
    const f = VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_NONE;
    throwsProtocol(() => decodeRequest(SET, wire(16, f, 0, 0, 0)), "EINVAL", /argsz 16/);
    throwsProtocol(() => decodeRequest(SET, wire(20, f, 0, 0xffffffff, 2)), "EINVAL", /overflows/);
    assert.equal(decodeRequest(SET, wire(20, f, 0, 0, 0)).count, 0);
  });

  it("encoder checks bools against data and count", () => {
    const base = { argsz: 20, action: "trigger" as const, index: 0, start: 0, count: 2 };
    throwsProtocol(() => encodeRequest(SET, { ...base, data: "bool" }), "EINVAL", /bools/);
    throwsProtocol(
      () => encodeRequest(SET, { ...base, data: "none", bools: new Uint8Array(2) }),
      "EINVAL",
      /bools/,
    );
    throwsProtocol(
      () => encodeRequest(SET, { ...base, data: "bool", bools: new Uint8Array(1) }),
      "EINVAL",
      /1 bools/,
    );
    throwsProtocol(
      () => encodeRequest(SET, { ...base, data: "x" as IrqSetData }),
      "EINVAL",
      /bad action/,
    );
  });

  it("has an empty reply", () => {
    assert.deepEqual(decodeReply(SET, new Uint8Array(0)), {});
    assert.equal(encodeReply(SET, {}).byteLength, 0);
  });
});
