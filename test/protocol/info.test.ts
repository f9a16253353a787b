import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Command,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_PCI_MSIX_IRQ_INDEX,
} from "../../src/protocol/constants.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../src/protocol/messages/index.js";
import { bytes, throwsProtocol, u32 } from "./bytes.js";

const INFO = Command.VFIO_USER_DEVICE_GET_INFO;
const IRQ = Command.VFIO_USER_DEVICE_GET_IRQ_INFO;

describe("DEVICE_GET_INFO", () => {
  it("request: argsz at 0, other fields written as zero and ignored", () => {
    assert.deepEqual(encodeRequest(INFO, { argsz: 16 }), bytes(u32(16), u32(0), u32(0), u32(0)));
    assert.deepEqual(decodeRequest(INFO, bytes(u32(32), u32(7), u32(8), u32(9))), { argsz: 32 });
  });

  it("request: argsz below the 16-byte reply is EINVAL", () => {
    throwsProtocol(
      () => decodeRequest(INFO, bytes(u32(15), u32(0), u32(0), u32(0))),
      "EINVAL",
      /argsz 15/,
    );
    throwsProtocol(
      () => decodeRequest(INFO, bytes(u32(16), u32(0), u32(0))),
      "EINVAL",
      /expected 16/,
    );
    throwsProtocol(() =>
      decodeRequest(INFO, bytes(u32(16), u32(0), u32(0), u32(0)), { numFds: 1 }),
    );
  });

  it("reply: argsz 0, flags 4, num_regions 8, num_irqs 12", () => {
    const flags = VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI;
    const wire = bytes(u32(16), u32(flags), u32(9), u32(5));
    const msg = { argsz: 16, flags, numRegions: 9, numIrqs: 5 };
    assert.deepEqual(decodeReply(INFO, wire), msg);
    assert.deepEqual(encodeReply(INFO, msg), wire);
    throwsProtocol(
      () => decodeReply(INFO, bytes(u32(8), u32(flags), u32(9), u32(5))),
      "EINVAL",
      /argsz 8/,
    );
  });
});

describe("DEVICE_GET_IRQ_INFO", () => {
  it("request: argsz 0, index 8; flags and count zero", () => {
    const wire = bytes(u32(16), u32(0), u32(VFIO_PCI_MSIX_IRQ_INDEX), u32(0));
    assert.deepEqual(encodeRequest(IRQ, { argsz: 16, index: VFIO_PCI_MSIX_IRQ_INDEX }), wire);
    assert.deepEqual(decodeRequest(IRQ, wire), { argsz: 16, index: 2 });
    throwsProtocol(() => decodeRequest(IRQ, bytes(u32(4), wire.subarray(4))), "EINVAL", /argsz 4/);
  });

  it("reply: argsz 0, flags 4, index 8, count 12", () => {
    const flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE;
    const wire = bytes(u32(16), u32(flags), u32(2), u32(2048));
    const msg = { argsz: 16, flags, index: 2, count: 2048 };
    assert.deepEqual(decodeReply(IRQ, wire), msg);
    assert.deepEqual(encodeReply(IRQ, msg), wire);
    throwsProtocol(() => decodeReply(IRQ, bytes(wire, [0])), "EINVAL", /expected 16/);
  });
});
