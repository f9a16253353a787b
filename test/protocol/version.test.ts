import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "../../src/protocol/constants.js";
import { decodeReply, decodeRequest, encodeRequest } from "../../src/protocol/messages/index.js";
import { bytes, throwsProtocol, u16 } from "./bytes.js";

const V = Command.VFIO_USER_VERSION;

function withJson(json: string): Uint8Array {
  return bytes(u16(0), u16(1), json, [0]);
}

describe("VERSION", () => {
  it("refuses a number past the double range, even under an unknown key (found by fuzzing)", () => {
    // 17e4096 parsed to Infinity, kept among the unknown capabilities, re-encoded as null.
    for (const n of ["17e4096", "-1e309", "9".repeat(400)]) {
      throwsProtocol(() => decodeRequest(V, withJson(`{"capabilities":{"x":${n}}}`)), "EINVAL");
    }
    const ok = decodeRequest(V, withJson('{"capabilities":{"x":1.5e308}}'));
    assert.equal(ok.capabilities?.unknown?.x, 1.5e308);
  });

  it("decodes major at 0, minor at 2 and no JSON", () => {
    assert.deepEqual(decodeRequest(V, bytes(u16(0x0102), u16(0x0304))), {
      major: 0x0102,
      minor: 0x0304,
    });
  });

  it("decodes every capability the spec (and QEMU) names", () => {
    const json =
      '{"capabilities":{"max_msg_fds":16,"max_data_xfer_size":1048576,"max_dma_maps":65535,' +
      '"pgsizes":4096,"migration":{"pgsize":4096,"max_bitmap_size":268435456},' +
      '"twin_socket":{"supported":true,"fd_index":0},"write_multiple":true}}';
    assert.deepEqual(decodeReply(V, withJson(json), { numFds: 1 }), {
      major: 0,
      minor: 1,
      capabilities: {
        maxMsgFds: 16,
        maxDataXferSize: 1048576,
        maxDmaMaps: 65535,
        pgsizes: 4096n,
        migration: { pgsize: 4096n, maxBitmapSize: 268435456 },
        twinSocket: { supported: true, fdIndex: 0 },
        writeMultiple: true,
      },
    });
  });

  it("leaves absent capabilities undefined (defaults are applied by negotiation)", () => {
    assert.deepEqual(decodeRequest(V, withJson("{}")), { major: 0, minor: 1 });
    assert.deepEqual(decodeRequest(V, withJson('{"capabilities":{}}')), {
      major: 0,
      minor: 1,
      capabilities: {},
    });
  });

  it("preserves unknown capabilities, drops unknown nested and top-level keys", () => {
    const json =
      '{"x":1,"capabilities":{"future":{"a":[1,2]},"__proto__":5,' +
      '"twin_socket":{"supported":false,"extra":1},"migration":{"zzz":true}}}';
    const v = decodeRequest(V, withJson(json));
    assert.deepEqual(v.capabilities?.twinSocket, { supported: false });
    assert.deepEqual(v.capabilities?.migration, {});
    assert.deepEqual(Object.keys(v.capabilities?.unknown ?? {}), ["future", "__proto__"]);
    assert.deepEqual(v.capabilities?.unknown?.future, { a: [1, 2] });
    assert.equal(Object.getPrototypeOf(v.capabilities?.unknown), Object.prototype);
    // and they survive re-encoding
    const again = decodeRequest(V, encodeRequest(V, v));
    assert.deepEqual(again, v);
  });

  it("encodes major, minor, the JSON and the terminating NUL", () => {
    const out = encodeRequest(V, {
      major: 0,
      minor: 1,
      capabilities: { maxMsgFds: 8, pgsizes: 0xfffffffffffff000n, writeMultiple: false },
    });
    const json =
      '{"capabilities":{"max_msg_fds":8,"pgsizes":18446744073709547520,"write_multiple":false}}';
    assert.deepEqual(out, withJson(json));
    assert.deepEqual(encodeRequest(V, { major: 3, minor: 4 }), bytes(u16(3), u16(4)));
  });

  it("keeps large pgsizes masks exact", () => {
    const v = decodeRequest(V, withJson('{"capabilities":{"pgsizes":18446744073709547520}}'));
    assert.equal(v.capabilities?.pgsizes, 0xfffffffffffff000n);
  });

  it("rejects missing NUL, embedded NUL, bad UTF-8 and bad JSON", () => {
    throwsProtocol(() => decodeRequest(V, bytes(u16(0), u16(0), "{}")), "EINVAL", /NUL-terminated/);
    throwsProtocol(
      () => decodeRequest(V, bytes(u16(0), u16(0), "{}", [0, 0])),
      "EINVAL",
      /NUL at 2/,
    );
    throwsProtocol(
      () => decodeRequest(V, bytes(u16(0), u16(0), [0xc3, 0x28, 0])),
      "EINVAL",
      /UTF-8/,
    );
    throwsProtocol(() => decodeRequest(V, withJson("{")), "EINVAL", /not valid JSON/);
    throwsProtocol(() => decodeRequest(V, withJson("")), "EINVAL", /not valid JSON/);
    throwsProtocol(() => decodeRequest(V, bytes(u16(0), [1])), "EINVAL", /minor/);
  });

  it("rejects non-object JSON and wrongly typed capabilities", () => {
    for (const json of ["[]", "1", '"s"', "null", "true"]) {
      throwsProtocol(() => decodeRequest(V, withJson(json)), "EINVAL", /must be a JSON object/);
    }
    const bad = [
      '{"capabilities":[]}',
      '{"capabilities":{"max_msg_fds":-1}}',
      '{"capabilities":{"max_msg_fds":1.5}}',
      '{"capabilities":{"max_msg_fds":"8"}}',
      '{"capabilities":{"max_data_xfer_size":1e300}}',
      '{"capabilities":{"max_dma_maps":null}}',
      '{"capabilities":{"pgsizes":-4096}}',
      '{"capabilities":{"pgsizes":18446744073709551616}}',
      '{"capabilities":{"migration":5}}',
      '{"capabilities":{"migration":{"pgsize":"4k"}}}',
      '{"capabilities":{"migration":{"max_bitmap_size":-1}}}',
      '{"capabilities":{"twin_socket":true}}',
      '{"capabilities":{"twin_socket":{"supported":1}}}',
      '{"capabilities":{"twin_socket":{"fd_index":-1}}}',
      '{"capabilities":{"write_multiple":"yes"}}',
    ];
    for (const json of bad) throwsProtocol(() => decodeRequest(V, withJson(json)), "EINVAL");
  });

  it("requests carry no fds; replies may carry the twin socket", () => {
    throwsProtocol(() => decodeRequest(V, withJson("{}"), { numFds: 1 }), "EINVAL", /descriptor/);
    assert.equal(decodeReply(V, withJson("{}"), { numFds: 1 }).major, 0);
  });

  it("encoder rejects values a peer could not decode exactly", () => {
    throwsProtocol(() => encodeRequest(V, { major: 0x10000, minor: 0 }), "EINVAL", /major/);
    throwsProtocol(
      () => encodeRequest(V, { major: 0, minor: 0, capabilities: { pgsizes: (1n << 60n) + 1n } }),
      "EINVAL",
      /pgsizes/,
    );
    throwsProtocol(
      () => encodeRequest(V, { major: 0, minor: 0, capabilities: { maxMsgFds: -2 } }),
      "EINVAL",
      /max_msg_fds/,
    );
    throwsProtocol(
      () => encodeRequest(V, { major: 0, minor: 0, capabilities: { unknown: { pgsizes: 1 } } }),
      "EINVAL",
      /collides/,
    );
    throwsProtocol(
      () => encodeRequest(V, { major: 0, minor: 0, capabilities: { unknown: { x: 1n } } }),
      "EINVAL",
      /not JSON-serializable/,
    );
  });
});
