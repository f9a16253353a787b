import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitReply, replyHasArgsz } from "../../src/protocol/argsz.js";
import {
  Command,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/constants.js";
import { decodeHeader } from "../../src/protocol/header.js";
import * as protocol from "../../src/protocol/index.js";
import {
  decodeFrame,
  decodeMessage,
  encodeErrorReply,
  encodeMessage,
  encodeReplyMessage,
  encodeRequestMessage,
} from "../../src/protocol/message.js";
import { codecFor } from "../../src/protocol/messages/index.js";
import { bytes, throwsProtocol, u16, u32, u64 } from "./bytes.js";

describe("encodeMessage / decodeMessage", () => {
  it("frames header + body with the size filled in", () => {
    const m = encodeMessage({ id: 0x1234, command: 9, flags: VFIO_USER_F_NO_REPLY }, bytes([1, 2]));
    assert.deepEqual(
      m,
      bytes(u16(0x1234), u16(9), u32(18), u32(VFIO_USER_F_NO_REPLY), u32(0), [1, 2]),
    );
    throwsProtocol(() => encodeMessage({ id: 0x10000, command: 1 }), "EINVAL", /id/);
  });

  it("encodes a request straight into its frame", () => {
    const m = encodeRequestMessage(
      7,
      Command.VFIO_USER_REGION_READ,
      { offset: 0x10n, region: 7, count: 4 },
      { noReply: true },
    );
    assert.deepEqual(
      m,
      bytes(u16(7), u16(9), u32(32), u32(VFIO_USER_F_NO_REPLY), u32(0), u64(0x10), u32(7), u32(4)),
    );
    const d = decodeMessage(m, 0);
    assert.equal(d.kind, "request");
    if (d.kind === "request" && d.command === Command.VFIO_USER_REGION_READ) {
      assert.deepEqual(d.body, { offset: 0x10n, region: 7, count: 4 });
      assert.equal(d.header.id, 7);
    } else {
      assert.fail("wrong dispatch");
    }
  });

  it("dispatches replies by command and type, passing options through", () => {
    const data = Uint8Array.from([5, 6]);
    const m = encodeReplyMessage(
      3,
      Command.VFIO_USER_DMA_READ,
      { address: 0x1000n, data },
      { dmaRwLayout: "qemu" },
    );
    assert.equal(decodeHeader(m).flags, VFIO_USER_F_TYPE_REPLY);
    assert.equal(m.byteLength, 16 + 16 + 2);
    const d = decodeMessage(m, 0, { dmaRwLayout: "qemu" });
    assert.deepEqual(d.kind === "reply" && d.body, { address: 0x1000n, data });
  });

  it("error replies are header-only when sent and carry the errno; payloads are tolerated", () => {
    const m = encodeErrorReply(5, Command.VFIO_USER_DMA_MAP, 17);
    assert.deepEqual(
      m,
      bytes(u16(5), u16(2), u32(16), u32(VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR), u32(17)),
    );
    assert.deepEqual(decodeMessage(m, 0), {
      kind: "error",
      header: decodeHeader(m),
      command: 2,
      errno: 17,
    });
    const withBody = encodeMessage(
      { id: 5, command: 2, flags: VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR, error: 1 },
      bytes([0]),
    );
    // libvfio-user keeps the payload it had built when a handler fails (e.g. a failed
    // REGION_READ callback): the errno must still reach the caller.
    assert.deepEqual(decodeMessage(withBody, 1), {
      kind: "error",
      header: decodeHeader(withBody),
      command: 2,
      errno: 1,
    });
  });

  it("unknown commands fail with ENOSYS and keep the header for the error reply", () => {
    const e = throwsProtocol(
      () => decodeMessage(encodeMessage({ id: 9, command: 14 }), 0),
      "ENOSYS",
      /UNKNOWN\(14\)/,
    );
    assert.equal(e.header?.id, 9);
    assert.equal(e.header?.command, 14);
    throwsProtocol(() => codecFor(99 as 1), "ENOSYS");
  });

  it("body errors carry the header too", () => {
    const m = encodeMessage({ id: 4, command: Command.VFIO_USER_DEVICE_GET_INFO }, bytes(u32(1)));
    const e = throwsProtocol(() => decodeMessage(m, 0), "EINVAL", /DEVICE_GET_INFO request/);
    assert.equal(e.header?.id, 4);
  });

  it("size in the header must match the bytes", () => {
    const m = encodeMessage({ id: 1, command: Command.VFIO_USER_DEVICE_RESET });
    throwsProtocol(() => decodeMessage(bytes(m, [0]), 0), "EINVAL", /header size 16 but 17/);
    throwsProtocol(
      () => decodeMessage(m.subarray(0, 8), 0),
      "EPROTO",
      /shorter than the 16-byte header/,
    );
    throwsProtocol(() => decodeFrame(decodeHeader(m), bytes([1]), 0), "EINVAL", /header size/);
  });

  it("fds are validated per command", () => {
    const reset = encodeRequestMessage(1, Command.VFIO_USER_DEVICE_RESET, {});
    throwsProtocol(() => decodeMessage(reset, 1), "EINVAL", /descriptor/);
    assert.equal(decodeMessage(reset, 0).kind, "request");
  });
});

describe("argsz helpers", () => {
  it("replyHasArgsz lists exactly the commands whose reply has argsz", () => {
    const withArgsz = Object.values(Command).filter((c) => replyHasArgsz(c));
    assert.deepEqual(withArgsz, [3, 4, 5, 6, 7, 16, 17]);
  });

  it("fitReply fixes argsz of fixed-size replies and passes others through", () => {
    const info = { argsz: 0, flags: 3, numRegions: 9, numIrqs: 5 };
    assert.equal(fitReply(Command.VFIO_USER_DEVICE_GET_INFO, 16, info).argsz, 16);
    throwsProtocol(() => fitReply(Command.VFIO_USER_DEVICE_GET_INFO, 8, info), "EINVAL");
    const irq = { argsz: 99, flags: 0, index: 0, count: 1 };
    assert.equal(fitReply(Command.VFIO_USER_DEVICE_GET_IRQ_INFO, 100, irq).argsz, 16);
    const rw = { offset: 0n, region: 0, count: 4 };
    assert.equal(fitReply(Command.VFIO_USER_REGION_WRITE, 0, rw), rw);
    const unmap = { argsz: 0, flags: 0, address: 0n, size: 4096n };
    assert.equal(fitReply(Command.VFIO_USER_DMA_UNMAP, 24, unmap).argsz, 24);
  });
});

describe("index", () => {
  it("re-exports the public API", () => {
    const api = new Map(Object.entries(protocol));
    for (const name of [
      "decodeMessage",
      "decodeFrame",
      "encodeMessage",
      "encodeRequestMessage",
      "encodeReplyMessage",
      "encodeErrorReply",
      "decodeRequest",
      "decodeReply",
      "encodeRequest",
      "encodeReply",
      "codecFor",
      "fitReply",
      "needsLargerBuffer",
      "negotiateVersion",
      "checkVersionReply",
      "resolveCapabilities",
      "decodeHeader",
    ] as const) {
      assert.equal(typeof api.get(name), "function", name);
    }
    assert.ok(new protocol.ProtocolError("EINVAL", "x") instanceof Error);
    const c = codecFor(Command.VFIO_USER_DEVICE_GET_INFO);
    assert.deepEqual(c.decodeRequest(c.encodeRequest({ argsz: 16 })), { argsz: 16 });
  });
});
