/**
 * Message generators of the socket fuzz test (fuzz-socket.test.ts): vfio-user requests
 * with field values at and past the test device's limits, malformed bodies, stray fds,
 * reply-typed and NO_REPLY messages, and framing violations.
 */
import fc from "fast-check";
import { Command, HEADER_SIZE, VFIO_USER_F_ERROR } from "../../src/protocol/index.js";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../../src/transport/index.js";

const C = Command;

const u32 = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 7, 8, 16, 20, 24, 32, 40, 0x1000) },
  { weight: 1, arbitrary: fc.constantFrom(0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, 0xfffn, 0x1000n, 0x1001n, 0x10000n, 0x100000n, 1n << 32n),
  fc.constantFrom(1n << 63n, (1n << 64n) - 1n, (1n << 64n) - 0x1000n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);
/** Values the server accepts, most of the time, so it gets past the first check. */
function mostly<T>(plausible: fc.Arbitrary<T>, anything: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 5, arbitrary: plausible }, { weight: 1, arbitrary: anything });
}
const regionIndex = mostly(
  fc.constantFrom(0, 1, 2, 4, 6, 7, 9),
  fc.oneof(fc.constantFrom(3, 5, 8, 10, 11), u32),
);
const irqIndex = mostly(fc.integer({ min: 0, max: 4 }), fc.oneof(fc.constantFrom(5, 6), u32));
const irqCount = mostly(fc.integer({ min: 0, max: 9 }), u32);
const regionOffset = mostly(
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 0x40 }).map((k) => BigInt(k * 4)) },
    { weight: 1, arbitrary: fc.constantFrom(0x100n, 0xffcn, 0x1000n, 0x2000n, 0x3000n) },
  ),
  fc.oneof(
    fc.integer({ min: 0, max: 0x4100 }).map(BigInt),
    fc.constantFrom(0xfffn, 0x3ffcn, 0x4000n),
    u64,
  ),
);
const accessCount = mostly(
  fc.constantFrom(1, 2, 4, 8),
  fc.oneof(fc.constantFrom(0, 3, 0x1000, 0x4000, 0x100000, 0x100001), fc.nat(64), u32),
);
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const dmaAddress = mostly(
  fc.constantFrom(0n, 0x1000n, 0x2000n, 0x10000n, 0x100000n),
  fc.oneof(fc.constantFrom(0x800n, 0xfffn), u64),
);
const dmaSize = mostly(
  fc.constantFrom(0x1000n, 0x10000n),
  fc.oneof(fc.constantFrom(0n, 0x1001n, 0x2000n, 0x20000n), u64),
);
const dmaOffset = mostly(fc.constantFrom(0n, 0x1000n, 0x8000n), fc.oneof(fc.constant(0x800n), u64));
/** Undefined (the consistent default) four times out of five. */
function sometimes<T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });
}
const argsz = (n: number) => mostly(fc.constant(n), u32);

/** Little-endian fields of the widths in `layout` ("4 4 8": u32 u32 u64), then `tail`. */
export function pack(
  layout: string,
  values: (number | bigint)[],
  tail = new Uint8Array(0),
): Uint8Array {
  const widths = layout.split(" ").map(Number);
  const size = widths.reduce((n, w) => n + w, 0);
  const b = new Uint8Array(size + tail.byteLength);
  const v = new DataView(b.buffer);
  let at = 0;
  for (const [i, w] of widths.entries()) {
    const x = values[i]!;
    if (w === 2) v.setUint16(at, Number(x), true);
    else if (w === 4) v.setUint32(at, Number(x) >>> 0, true);
    else v.setBigUint64(at, BigInt(x), true);
    at += w;
  }
  b.set(tail, size);
  return b;
}

export type FdKind = "eventfd" | "memfd";
export interface BodyPlan {
  command: number;
  body: Uint8Array;
  fds: FdKind[];
}
const noFds: FdKind[] = [];
const fdList = fc.oneof(
  { weight: 8, arbitrary: fc.constant(noFds) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom<FdKind>("eventfd", "memfd"), { maxLength: 3 }) },
);
const plan = (command: number, body: fc.Arbitrary<Uint8Array>, fds = fdList) =>
  fc.record({ command: fc.constant(command), body, fds });

const json = fc.oneof(
  fc.constantFrom('{"capabilities":{}}', '{"capabilities":{"max_msg_fds":0}}', "{", "", "null"),
  fc.string({ maxLength: 24 }),
);
export const text = new TextEncoder();

/**
 * SET_IRQS, mostly consistent (one DATA and one ACTION bit, bool bytes or eventfds
 * matching count) so it reaches the IRQ layer's range and state checks.
 */
const setIrqs: fc.Arbitrary<BodyPlan> = fc
  .tuple(
    mostly<[number, number]>(
      fc.tuple(fc.constantFrom(1, 2, 4), fc.constantFrom(8, 16, 32)),
      fc.tuple(fc.constantFrom(0, 3, 6, 7), fc.constantFrom(0, 24, 56)),
    ),
    irqIndex,
    mostly(fc.constant(0), irqCount),
    mostly(fc.constantFrom(0, 1, 2), irqCount),
    fc.nat(4).map((n) => n > 0),
    sometimes(u32),
    fdList,
    bytes(10),
  )
  .map(([[data, action], index, start, count, consistent, argsz, fds, junk]) => {
    let payload = junk;
    let sent = fds;
    if (consistent) {
      payload = new Uint8Array(data === 2 ? Math.min(count, 10) : 0);
      payload.set(junk.subarray(0, payload.byteLength).map((b) => b & 1));
      sent =
        data === 4 ? Array.from({ length: Math.min(count, 3) }, () => "eventfd" as const) : noFds;
    }
    const body = pack(
      "4 4 4 4 4",
      [argsz ?? 20 + payload.byteLength, data | action, index, start, count],
      payload,
    );
    return { command: C.VFIO_USER_DEVICE_SET_IRQS, body, fds: sent };
  });

/** Requests laid out as their command, fields mostly plausible, often out of range. */
const wellFormed: fc.Arbitrary<BodyPlan> = fc.oneof(
  plan(
    C.VFIO_USER_VERSION,
    fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 0xffff }), json)
      .map(([ma, mi, j]) => pack("2 2", [ma, mi], text.encode(`${j}\0`))),
  ),
  plan(
    C.VFIO_USER_DMA_MAP,
    fc
      .tuple(argsz(32), mostly(fc.integer({ min: 1, max: 3 }), u32), dmaOffset, dmaAddress, dmaSize)
      .map(([a, flags, offset, address, size]) =>
        pack("4 4 8 8 8", [a, flags, offset, address, size]),
      ),
    fc.oneof(fc.constant<FdKind[]>(["memfd"]), fdList),
  ),
  plan(
    C.VFIO_USER_DMA_UNMAP,
    fc
      .tuple(
        argsz(24),
        mostly(fc.constantFrom(0, 2), fc.oneof(fc.constantFrom(1, 3), u32)),
        dmaAddress,
        dmaSize,
        sometimes(fc.tuple(u64, fc.constantFrom(0n, 1n, 8n, 0x1000n))),
      )
      .map(([a, flags, address, size, bm]) =>
        pack(bm ? "4 4 8 8 8 8" : "4 4 8 8", [a, flags, address, size, ...(bm ?? [])]),
      ),
  ),
  plan(
    C.VFIO_USER_DEVICE_GET_INFO,
    fc.tuple(argsz(16), u32).map(([a, flags]) => pack("4 4 4 4", [a, flags, 0, 0])),
  ),
  plan(
    C.VFIO_USER_DEVICE_GET_REGION_INFO,
    fc
      .tuple(
        mostly(fc.constantFrom(32, 256), fc.nat(200)),
        mostly(fc.constant(0), u32),
        regionIndex,
      )
      .map(([a, f, i]) => pack("4 4 4 4 8 8", [a, f, i, 0, 0n, 0n])),
  ),
  plan(
    C.VFIO_USER_DEVICE_GET_REGION_IO_FDS,
    fc
      .tuple(
        mostly(fc.constantFrom(16, 256), fc.nat(200)),
        mostly(fc.constant(0), u32),
        regionIndex,
        mostly(fc.constant(0), u32),
      )
      .map(([a, f, i, n]) => pack("4 4 4 4", [a, f, i, n])),
  ),
  plan(
    C.VFIO_USER_DEVICE_GET_IRQ_INFO,
    fc
      .tuple(argsz(16), mostly(fc.constant(0), u32), irqIndex, mostly(fc.constant(0), u32))
      .map(([a, f, i, n]) => pack("4 4 4 4", [a, f, i, n])),
  ),
  setIrqs,
  plan(
    C.VFIO_USER_REGION_READ,
    fc.tuple(regionOffset, regionIndex, accessCount).map(([o, r, n]) => pack("8 4 4", [o, r, n])),
  ),
  plan(
    C.VFIO_USER_REGION_WRITE,
    fc
      .tuple(regionOffset, regionIndex, accessCount, bytes(64), fc.boolean())
      .map(([o, r, n, d, honest]) => {
        // Honest: count matches the data; otherwise the body disagrees with count.
        const data = honest && n <= 64 ? new Uint8Array(n) : d;
        if (data !== d) data.set(d.subarray(0, n));
        return pack("8 4 4", [o, r, n], data);
      }),
  ),
  plan(C.VFIO_USER_DEVICE_RESET, fc.constant(new Uint8Array(0))),
  plan(
    C.VFIO_USER_REGION_WRITE_MULTI,
    fc
      .tuple(
        fc.array(
          fc.tuple(
            regionOffset,
            regionIndex,
            fc.oneof(fc.integer({ min: 0, max: 9 }), u32),
            bytes(8),
          ),
          {
            maxLength: 4,
          },
        ),
        sometimes(fc.oneof(u64, fc.constantFrom(201n, 200n))),
      )
      .map(([ws, cnt]) => {
        const entries = ws.map(([o, r, n, d]) => {
          const slot = new Uint8Array(8);
          slot.set(d);
          return pack("8 4 4", [o, r, n], slot);
        });
        return concat([pack("8", [cnt ?? BigInt(ws.length)]), ...entries]);
      }),
  ),
  plan(
    C.VFIO_USER_DEVICE_FEATURE,
    fc
      .tuple(u32, fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 7 }), bytes(32))
      .map(([a, feat, ops, d]) => pack("4 4", [a, feat | (ops << 16)], d)),
  ),
  ...[C.VFIO_USER_MIG_DATA_READ, C.VFIO_USER_MIG_DATA_WRITE].map((cmd) =>
    plan(
      cmd,
      fc.tuple(u32, u32, bytes(16)).map(([a, s, d]) => pack("4 4", [a, s], d)),
    ),
  ),
  ...[C.VFIO_USER_DMA_READ, C.VFIO_USER_DMA_WRITE].map((cmd) =>
    plan(
      cmd,
      fc.tuple(u64, u64, bytes(16)).map(([a, n, d]) => pack("8 8", [a, n], d)),
    ),
  ),
);

import { concatBytes as concat } from "../../src/bytes.js";

export { concat };

/** A well-formed body cut short, extended, or replaced; or an id no command has. */
const malformed: fc.Arbitrary<BodyPlan> = fc.oneof(
  fc.tuple(wellFormed, fc.nat(), bytes(16)).map(([p, cut, extra]) => ({
    ...p,
    body: concat([p.body.subarray(0, cut % (p.body.byteLength + 1)), extra]),
  })),
  fc.tuple(wellFormed, bytes(48)).map(([p, body]) => ({ ...p, body })),
  fc.record({
    command: fc.oneof(fc.constantFrom(0, 14, 19, 0xffff), fc.integer({ min: 0, max: 0xffff })),
    body: bytes(48),
    fds: fdList,
  }),
);

export interface Msg extends BodyPlan {
  /** A reply-typed message sent to the server (it must not answer it). */
  asReply: boolean;
  noReply: boolean;
  /** ERROR or reserved bits on a command, and a non-zero error field. */
  extraFlags: number;
  error: number;
}
const message: fc.Arbitrary<Msg> = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: wellFormed }, { weight: 1, arbitrary: malformed }),
    fc.integer({ min: 0, max: 9 }),
    fc.constantFrom(0, 0, 0, 0, 0, VFIO_USER_F_ERROR, 0x40, 0x80000000),
    fc.constantFrom(0, 0, 0, 5),
  )
  .map(([p, roll, extraFlags, error]) => ({
    ...p,
    asReply: roll === 0,
    noReply: roll >= 7,
    extraFlags,
    error,
  }));

export type Violation = { kind: "size"; size: number } | { kind: "type"; type: number };
const violation: fc.Arbitrary<Violation> = fc.oneof(
  fc.integer({ min: 0, max: HEADER_SIZE - 1 }).map((size) => ({ kind: "size" as const, size })),
  fc
    .oneof(fc.constant(DEFAULT_MAX_MESSAGE_SIZE + 1), fc.constant(0xffffffff))
    .map((size) => ({ kind: "size" as const, size })),
  fc.integer({ min: 2, max: 15 }).map((type) => ({ kind: "type" as const, type })),
);

export interface Sequence {
  /** Send the messages before VERSION (commands must then all fail), VERSION after. */
  preVersion: boolean;
  firstId: number;
  msgs: Msg[];
  violation: Violation | undefined;
}
export const sequence: fc.Arbitrary<Sequence> = fc
  .record({
    preVersion: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    firstId: fc.integer({ min: 0, max: 0xffff }),
    msgs: fc.array(message, { minLength: 1, maxLength: 20, size: "max" }),
    violation: sometimes(violation),
  })
  .map((s) =>
    // Before negotiation a VERSION would negotiate (or end the connection by design).
    s.preVersion
      ? { ...s, msgs: s.msgs.filter((m) => m.asReply || m.command !== C.VFIO_USER_VERSION) }
      : s,
  );
