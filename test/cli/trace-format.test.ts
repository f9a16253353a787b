/** Trace record formatting (text and JSON) and reply latency matching. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeForTrace,
  flagsText,
  formatRecordJson,
  formatRecordText,
  LatencyTracker,
  type TraceRecord,
  textFields,
} from "../../src/cli/trace/index.js";
import { Errno } from "../../src/errors.js";
import {
  Command,
  decodeHeader,
  encodeErrorReply,
  encodeMessage,
  encodeReplyMessage,
  encodeRequestMessage,
  HEADER_SIZE,
} from "../../src/protocol/index.js";

function record(bytes: Uint8Array, fields: Partial<TraceRecord> = {}): TraceRecord {
  const header = decodeHeader(bytes);
  const body = bytes.subarray(HEADER_SIZE);
  const d = decodeForTrace(header, body, 0);
  return {
    time: 1.5,
    session: 3,
    channel: "main",
    direction: "c2s",
    header,
    body,
    fds: 0,
    decoded: d.body,
    decodeError: d.error,
    latencyMs: undefined,
    ...fields,
  };
}

describe("trace: text format", () => {
  it("prints direction, command, id, flags and the decoded fields", () => {
    const msg = encodeRequestMessage(5, Command.VFIO_USER_REGION_READ, {
      region: 7,
      offset: 0x40n,
      count: 4,
    });
    const line = formatRecordText(record(msg));
    assert.match(
      line,
      /^ +0\.001500 #3 c->s VFIO_USER_REGION_READ request id=5 flags=0x0\(command\) \| /,
    );
    assert.match(line, / offset=0x40 /, "bigints in hex");
    assert.match(line, / region=7/);
    assert.match(line, / count=4/);
  });

  it("names the errno of error replies and shows the latency", () => {
    const msg = encodeErrorReply(9, Command.VFIO_USER_DMA_MAP, Errno.EINVAL);
    const line = formatRecordText(record(msg, { direction: "s2c", latencyMs: 0.25 }));
    assert.match(
      line,
      /s->c VFIO_USER_DMA_MAP error id=9 flags=0x21\(reply\|error\) errno=EINVAL\(22\)/,
    );
    assert.match(line, /\(0\.250 ms\)$/);
  });

  it("prints the raw hex of a message that does not decode", () => {
    const msg = encodeMessage({ id: 7, command: 99 }, Uint8Array.of(0xaa, 0xbb));
    const rec = record(msg);
    assert.match(rec.decodeError ?? "", /ENOSYS/);
    const line = formatRecordText(rec);
    assert.match(line, /UNKNOWN\(99\) request id=7 .*DECODE ERROR: ENOSYS/);
    assert.match(line, /raw=\[07 00 63 00 12 00 00 00 00 00 00 00 00 00 00 00 aa bb\]/);
  });

  it("decodes QEMU's DMA_READ layout when the spec layout does not fit", () => {
    const msg = encodeRequestMessage(
      1,
      Command.VFIO_USER_DMA_WRITE,
      { address: 0x1000n, data: Uint8Array.of(1, 2, 3, 4) },
      { dmaRwLayout: "qemu" },
    );
    const rec = record(msg);
    assert.equal(rec.decodeError, undefined);
    assert.match(formatRecordText(rec), /address=0x1000 data=<4 bytes: 01 02 03 04>/);
  });

  it("shows flag names and nested fields compactly", () => {
    assert.equal(flagsText(0x10), "0x10(command|no_reply)");
    assert.equal(
      textFields({ a: 1n, b: [1, 2], c: { flags: 3 }, d: undefined, e: new Uint8Array(0) }),
      "a=0x1 b=[1, 2] c={flags=0x3} e=<0 bytes>",
    );
  });
});

describe("trace: JSON format", () => {
  it("emits one JSON object with bigints as strings and bytes as hex", () => {
    const msg = encodeReplyMessage(2, Command.VFIO_USER_DEVICE_GET_REGION_INFO, {
      argsz: 32,
      flags: 3,
      index: 0,
      size: 1n << 40n,
      offset: 0n,
      caps: [],
    });
    const line = formatRecordJson(record(msg, { direction: "s2c", latencyMs: 1.23456, fds: 1 }));
    assert.ok(!line.includes("\n"));
    const j = JSON.parse(line) as Record<string, unknown>;
    assert.equal(j.command, "VFIO_USER_DEVICE_GET_REGION_INFO");
    assert.equal(j.kind, "reply");
    assert.equal(j.direction, "s2c");
    assert.equal(j.id, 2);
    assert.equal(j.flags, 1);
    assert.equal(j.fds, 1);
    assert.equal(j.latencyMs, 1.235);
    assert.deepEqual((j.body as Record<string, unknown>).size, "1099511627776");
    const err = JSON.parse(
      formatRecordJson(record(encodeMessage({ id: 1, command: 99 }, Uint8Array.of(0xff)))),
    ) as Record<string, unknown>;
    assert.match(String(err.decodeError), /ENOSYS/);
    // Header (id 1, command 99, size 17, flags 0, error 0), then the body byte.
    assert.equal(err.raw, "01006300110000000000000000000000ff");
  });
});

describe("trace: latency matching", () => {
  it("matches a reply to the oldest request with its id going the other way", () => {
    const t = new LatencyTracker();
    t.request("main", "c2s", 1, 10);
    t.request("main", "c2s", 1, 12);
    t.request("twin", "s2c", 1, 11);
    assert.equal(t.reply("main", "c2s", 1, 20), undefined, "same direction is not a reply");
    assert.equal(t.reply("main", "s2c", 1, 20), 10);
    assert.equal(t.reply("main", "s2c", 1, 21), 9);
    assert.equal(t.reply("main", "s2c", 1, 22), undefined);
    assert.equal(t.reply("twin", "c2s", 1, 15), 4, "twin channel kept apart");
    assert.equal(t.outstanding, 0);
  });
});
