import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  Command,
  HEADER_SIZE,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/constants.js";
import { decodeMessage, encodeMessage } from "../../src/protocol/message.js";
import { decodeReply, decodeRequest } from "../../src/protocol/messages/index.js";
import { negotiateVersion } from "../../src/protocol/negotiate.js";
import { ProtocolError } from "../../src/protocol/protocol-error.js";
import { bytes, throwsProtocol, u16, u32, u64, zeros } from "./bytes.js";

/**
 * Review findings against the 0.9.2 spec and what QEMU hw/vfio-user and libvfio-user put
 * on the wire, plus boundary cases (argsz at the limit, counts at 0 / max, sizes near
 * 2^32 / 2^64, capability chain loops).
 */

const V = Command.VFIO_USER_VERSION;

function version(json: string): Uint8Array {
  return bytes(u16(0), u16(0), json, [0]);
}

function caps(inner: string): Uint8Array {
  return version(`{"capabilities":{${inner}}}`);
}

describe("VERSION JSON edge cases", () => {
  it("keeps every u64 pgsizes mask exact, not only those a double holds", () => {
    // 2^64 - 512 is not a double: JSON.parse rounds it to 2^64 and refused it.
    const v = decodeRequest(V, caps('"pgsizes":18446744073709551104'));
    assert.equal(v.capabilities?.pgsizes, 0xfffffffffffffe00n);
    const odd = decodeRequest(V, caps('"migration":{"pgsize":9007199254740993}'));
    assert.equal(odd.capabilities?.migration?.pgsize, 9007199254740993n);
    throwsProtocol(() => decodeRequest(V, caps('"pgsizes":18446744073709551616')), "EINVAL");
    throwsProtocol(() => decodeRequest(V, caps('"pgsizes":-4096')), "EINVAL");
    // A megabyte of digits is refused quickly (BigInt parsing is quadratic): past the
    // double range, by the JSON parser itself.
    const digits = `{"capabilities":{"pgsizes":${"9".repeat(1 << 20)}}}`;
    const text = new TextEncoder().encode(digits);
    const body = new Uint8Array(4 + text.length + 1);
    body.set(text, 4);
    throwsProtocol(() => decodeRequest(V, body), "EINVAL", /number out of range/);
  });

  it("refuses counts beyond 2^53 instead of rounding them", () => {
    throwsProtocol(
      () => decodeRequest(V, caps('"max_data_xfer_size":9007199254740993')),
      "EINVAL",
      /max_data_xfer_size/,
    );
    const v = decodeRequest(V, caps('"max_dma_maps":9007199254740991,"max_msg_fds":-0'));
    assert.equal(v.capabilities?.maxDmaMaps, Number.MAX_SAFE_INTEGER);
    assert.equal(v.capabilities?.maxMsgFds, 0);
  });

  it("refuses integers written with a fraction or exponent, as QEMU and libvfio-user do", () => {
    for (const n of ["1.0", "1e3", "4.096E3", "1.5"]) {
      throwsProtocol(() => decodeRequest(V, caps(`"max_msg_fds":${n}`)), "EINVAL", /max_msg_fds/);
      throwsProtocol(() => decodeRequest(V, caps(`"pgsizes":${n}`)), "EINVAL", /pgsizes/);
    }
    // A float where an object is expected is still not an object.
    throwsProtocol(() => decodeRequest(V, caps('"migration":1.5')), "EINVAL", /migration/);
  });

  it("refuses duplicate keys at any level (QEMU refuses them, json-c keeps the last)", () => {
    for (const json of [
      '{"capabilities":{},"capabilities":{"max_msg_fds":4}}',
      '{"capabilities":{"max_msg_fds":1,"max_msg_fds":16}}',
      '{"capabilities":{"migration":{"pgsize":4096,"pgsize":8192}}}',
      '{"capabilities":{"x":[{"a":1,"a":2}]}}',
    ]) {
      throwsProtocol(() => decodeRequest(V, version(json)), "EINVAL", /duplicate key/);
    }
  });

  it("keeps unknown capabilities as plain JSON values, __proto__ included", () => {
    const v = decodeRequest(
      V,
      caps(
        '"x":[1,2.5,{"y":null,"z":"\\u00e9\\n"}],"__proto__":{"max_msg_fds":9},"big":18446744073709551615',
      ),
    );
    assert.equal(v.capabilities?.maxMsgFds, undefined);
    const u = v.capabilities?.unknown ?? {};
    assert.deepEqual(u.x, [1, 2.5, { y: null, z: "é\n" }]);
    assert.ok(Object.hasOwn(u, "__proto__"));
    assert.equal(Object.getPrototypeOf(u), Object.prototype);
    assert.equal(u.big, 2 ** 64);
  });

  it("refuses deep nesting, bad escapes, control characters and trailing text", () => {
    const deep = `{"capabilities":{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    const text = new TextEncoder().encode(deep);
    const body = new Uint8Array(4 + text.length + 1);
    body.set(text, 4);
    throwsProtocol(() => decodeRequest(V, body), "EINVAL", /nesting/);
    for (const bad of [
      '{"capabilities":{"x":"\\q"}}',
      '{"capabilities":{"x":"\\u12"}}',
      '{"capabilities":{"x":"a\tb"}}',
      '{"capabilities":{}} x',
      '{"capabilities":{},}',
      '{"capabilities":[1,]}',
      "{'capabilities':{}}",
      '{"capabilities":{"x":01}}',
      '{"capabilities":{"x":NaN}}',
      '{"capabilities":{"x":.5}}',
      "\ufeff{}",
    ]) {
      throwsProtocol(() => decodeRequest(V, version(bad)), "EINVAL", /not valid JSON/);
    }
    // Insignificant whitespace is fine.
    const ok = decodeRequest(V, version(' \r\n\t{ "capabilities" : { "max_msg_fds" : 8 } } '));
    assert.equal(ok.capabilities?.maxMsgFds, 8);
  });

  it("refuses bytes after the NUL (neither QEMU nor libvfio-user sends any)", () => {
    throwsProtocol(
      () => decodeRequest(V, bytes(u16(0), u16(0), "{}", [0], "xx", [0])),
      "EINVAL",
      /NUL at 2/,
    );
  });

  it("accepts QEMU's exact proposal and answers within the limits QEMU checks", () => {
    const qemu =
      '{"capabilities":{"migration":{"pgsize":4096,"max_bitmap_size":268435456},' +
      '"max_msg_fds":16,"max_data_xfer_size":1048576,"pgsizes":4096,' +
      '"max_dma_maps":65535,"write_multiple":true}}';
    const proposal = decodeRequest(V, version(qemu));
    const r = negotiateVersion(
      {
        major: 0,
        minor: 1,
        capabilities: {
          maxMsgFds: 64,
          maxDataXferSize: 1 << 28,
          pgsizes: 0xfffffffffffff000n,
          migration: { pgsize: 4096n },
          writeMultiple: true,
        },
      },
      proposal,
    );
    assert.ok(r.ok);
    const c = r.reply.capabilities ?? {};
    assert.ok((c.maxMsgFds ?? 1) <= 16);
    assert.ok((c.maxDataXferSize ?? 0) <= 64 * 1024 * 1024);
    assert.equal((c.pgsizes ?? 4096n) & 4095n, 0n);
    assert.ok((c.maxDmaMaps ?? 65535) <= 65535);
    assert.ok((c.migration?.maxBitmapSize ?? 0) <= 256 * 1024 * 1024);
    assert.equal(c.writeMultiple, true);
  });

  it("decoding arbitrary text or JSON throws nothing but ProtocolError", () => {
    const onlyProtocol = (body: Uint8Array) => {
      try {
        decodeRequest(V, body);
      } catch (e) {
        assert.ok(e instanceof ProtocolError, String(e));
      }
    };
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => onlyProtocol(version(s))),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (j) => {
        onlyProtocol(version(`{"capabilities":${JSON.stringify(j)}}`));
        onlyProtocol(caps(`"max_msg_fds":${JSON.stringify(j)}`));
        onlyProtocol(caps(`"migration":${JSON.stringify(j)}`));
      }),
      { numRuns: 100 },
    );
  });
});

describe("error replies", () => {
  it("tolerate the payload libvfio-user leaves on some failures and report the errno", () => {
    // libvfio-user's failed REGION_READ: header with ERROR|REPLY plus the 16 + count bytes.
    const m = encodeMessage(
      {
        id: 3,
        command: Command.VFIO_USER_REGION_READ,
        flags: VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
        error: 5,
      },
      bytes(u64(0), u32(0), u32(4), zeros(4)),
    );
    const d = decodeMessage(m, 0);
    assert.equal(d.kind, "error");
    assert.equal(d.kind === "error" && d.errno, 5);
  });
});

describe("argsz and count boundaries", () => {
  it("DMA_UNMAP with a bitmap: argsz must cover 24 + 16 + bitmap.size, exactly suffices", () => {
    const body = (argsz: number) =>
      bytes(
        u32(argsz),
        u32(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP),
        u64(0x10000n),
        u64(64n * 4096n),
        u64(4096n),
        u64(8n),
      );
    assert.equal(decodeRequest(Command.VFIO_USER_DMA_UNMAP, body(48)).bitmap?.size, 8);
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_DMA_UNMAP, body(47)), "EINVAL", /argsz/);
  });

  it("SET_IRQS: exactly one ACTION and one DATA bit; start + count may reach 2^32", () => {
    const irq = (flags: number, start: number, count: number, data: number[] = []) =>
      bytes(u32(20 + data.length), u32(flags), u32(1), u32(start), u32(count), data);
    const none = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    assert.equal(decodeRequest(Command.VFIO_USER_DEVICE_SET_IRQS, irq(none, 0, 0)).count, 0);
    const top = decodeRequest(Command.VFIO_USER_DEVICE_SET_IRQS, irq(none, 0xffffffff, 1));
    assert.equal(top.start, 0xffffffff);
    throwsProtocol(
      () => decodeRequest(Command.VFIO_USER_DEVICE_SET_IRQS, irq(none, 0xffffffff, 2)),
      "EINVAL",
      /overflows/,
    );
    const twoActions = none | VFIO_IRQ_SET_ACTION_MASK;
    throwsProtocol(
      () => decodeRequest(Command.VFIO_USER_DEVICE_SET_IRQS, irq(twoActions, 0, 1)),
      "EINVAL",
      /ACTION/,
    );
    const twoData = none | VFIO_IRQ_SET_DATA_BOOL;
    throwsProtocol(
      () => decodeRequest(Command.VFIO_USER_DEVICE_SET_IRQS, irq(twoData, 0, 1, [1])),
      "EINVAL",
      /DATA/,
    );
  });

  it("REGION_WRITE_MULTI: 200 writes pass, 201 and a 2^64-1 wr_cnt fail cleanly", () => {
    const entry = bytes(u64(0x100n), u32(0), u32(4), [1, 2, 3, 4], zeros(4));
    const multi = (n: number | bigint, entries: number) =>
      bytes(u64(n), ...new Array<Uint8Array>(entries).fill(entry));
    const ok = decodeRequest(Command.VFIO_USER_REGION_WRITE_MULTI, multi(200, 200));
    assert.equal(ok.writes.length, 200);
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_REGION_WRITE_MULTI, multi(201, 201)));
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_REGION_WRITE_MULTI, multi(-1n, 1)));
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_REGION_WRITE_MULTI, multi(2, 1)));
  });

  it("data transfers near 2^32 / 2^64 fail with E2BIG or EINVAL, never allocate", () => {
    const dmaRead = (count: bigint) => bytes(u64(0n), u64(count));
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_DMA_READ, dmaRead(0xffffffffn)), "E2BIG");
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_DMA_READ, dmaRead(1n << 63n)), "E2BIG");
    const limit = { maxDataXferSize: 4096 };
    assert.equal(decodeRequest(Command.VFIO_USER_DMA_READ, dmaRead(4096n), limit).count, 4096);
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_DMA_READ, dmaRead(4097n), limit), "E2BIG");
    const wrap = bytes(u64(0xfffffffffffffffen), u32(0), u32(4));
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_REGION_READ, wrap), "EINVAL", /wraps/);
    const header = bytes(u64(0n), u32(0), u32(0xffffffff));
    throwsProtocol(() => decodeRequest(Command.VFIO_USER_REGION_WRITE, header), "EINVAL");
    assert.ok(HEADER_SIZE + 16 + 0xffffffff > 0xffffffff);
  });
});

describe("region capability chains", () => {
  const sparseCap = (next: number, nr: number) =>
    bytes(u16(VFIO_REGION_INFO_CAP_SPARSE_MMAP), u16(1), u32(next), u32(nr), zeros(4));
  const area = bytes(u64(0n), u64(0x1000n));
  const reply = (argsz: number, chain: Uint8Array) =>
    bytes(
      u32(argsz),
      u32(VFIO_REGION_INFO_FLAG_CAPS),
      u32(0),
      u32(32),
      u64(0x2000n),
      u64(0n),
      chain,
    );
  const RI = Command.VFIO_USER_DEVICE_GET_REGION_INFO;

  it("decodes a chain whose last cap ends at argsz", () => {
    const chain = bytes(sparseCap(0, 1), area);
    const r = decodeReply(RI, reply(32 + chain.length, chain));
    assert.deepEqual(r.caps, [{ kind: "sparse-mmap", areas: [{ offset: 0n, size: 0x1000n }] }]);
  });

  it("refuses self loops, backward links and areas that run into the next cap", () => {
    const loop = sparseCap(32, 0);
    throwsProtocol(() => decodeReply(RI, reply(32 + loop.length, loop)), "EINVAL", /next 32/);
    const back = bytes(sparseCap(48, 0), sparseCap(32, 0));
    throwsProtocol(() => decodeReply(RI, reply(32 + back.length, back)), "EINVAL", /next 32/);
    const overlap = bytes(sparseCap(48, 1), sparseCap(0, 0));
    throwsProtocol(
      () => decodeReply(RI, reply(32 + overlap.length, overlap)),
      "EINVAL",
      /nr_areas 1/,
    );
    const huge = bytes(sparseCap(0, 0xffffffff), area);
    throwsProtocol(() => decodeReply(RI, reply(32 + huge.length, huge)), "EINVAL", /nr_areas/);
  });
});
