import fc from "fast-check";
import { fitReply } from "../../src/protocol/argsz.js";
import { Command, type CommandId } from "../../src/protocol/constants.js";
import type { VersionCapabilities } from "../../src/protocol/messages/capabilities.js";
import type { FeatureData } from "../../src/protocol/messages/feature-data.js";
import type { ReplyMap, RequestMap } from "../../src/protocol/messages/index.js";
import type { RegionCap } from "../../src/protocol/messages/region-caps.js";
import type { SubRegionIoFd } from "../../src/protocol/messages/region-io-fds.js";

/** Generators of valid messages of every kind (shared by the round-trip and fuzz tests). */

export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
export const small = fc.integer({ min: 0, max: 64 });
const data = (max = 64) => fc.uint8Array({ maxLength: max });

/** [start, start+len) within 2^64. */
const range = fc
  .tuple(u64, u64)
  .map(([a, b]) => (a <= b ? { start: a, len: b - a } : { start: b, len: a - b }));

const pow2 = fc.integer({ min: 0, max: 63 }).map((n) => 1n << BigInt(n));
/** Bitmasks a JSON double holds exactly: up to 53 significant bits. */
const jsonMask = fc
  .tuple(fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }), fc.integer({ min: 0, max: 11 }))
  .map(([m, s]) => m << BigInt(s));
const count = fc.nat({ max: Number.MAX_SAFE_INTEGER });

export const capabilities: fc.Arbitrary<VersionCapabilities> = fc.record(
  {
    maxMsgFds: count,
    maxDataXferSize: count,
    maxDmaMaps: count,
    pgsizes: jsonMask,
    migration: fc.record({ pgsize: jsonMask, maxBitmapSize: count }, { requiredKeys: [] }),
    twinSocket: fc.record({ supported: fc.boolean(), fdIndex: fc.nat(16) }, { requiredKeys: [] }),
    writeMultiple: fc.boolean(),
    unknown: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).map((s) => `x_${s}`),
      fc.json().map((j) => JSON.parse(j) as unknown),
      { minKeys: 1, maxKeys: 3 },
    ),
  },
  { requiredKeys: [] },
);

const version = fc.record(
  { major: u16, minor: u16, capabilities },
  { requiredKeys: ["major", "minor"] },
);

const regionCap: fc.Arbitrary<RegionCap> = fc.oneof(
  fc.record({
    kind: fc.constant("sparse-mmap" as const),
    areas: fc.array(fc.record({ offset: u64, size: u64 }), { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant("type" as const), type: u32, subtype: u32 }),
  fc.record({
    kind: fc.constant("raw" as const),
    id: fc.integer({ min: 3, max: 0xffff }),
    version: u16,
    data: data(24),
  }),
);

const subRegion: fc.Arbitrary<SubRegionIoFd> = fc.oneof(
  fc.record({
    type: fc.constant(0 as const),
    offset: u64,
    size: u64,
    fdIndex: fc.nat(3),
    flags: u32,
    datamatch: u64,
  }),
  fc.record({
    type: fc.constant(1 as const),
    offset: u64,
    size: u64,
    fdIndex: fc.nat(3),
    flags: u32,
    userData: u64,
  }),
  fc.record({
    type: fc.constant(2 as const),
    offset: u64,
    size: u64,
    fdIndex: fc.nat(3),
    flags: u32,
    datamatch: u64,
    shadowFdIndex: fc.nat(3),
    shadowOffset: u64,
  }),
);

/** A feature message that is valid in `direction`, with argsz consistent for it. */
function featureMessage(direction: "request" | "reply") {
  const GET = 1 << 16;
  const SET = 1 << 17;
  const PROBE = 1 << 18;
  const report = fc
    .record({
      iova: fc.bigInt({ min: 0n, max: (1n << 64n) - (1n << 24n) }),
      length: fc.bigInt({ min: 1n, max: 1n << 24n }),
      shift: fc.integer({ min: 9, max: 20 }),
    })
    .map(({ iova, length, shift }) => ({ iova, length, pageSize: 1n << BigInt(shift) }));
  const choices: fc.Arbitrary<{ feature: number; ops: number; data: FeatureData }>[] = [
    fc.record({
      feature: u16,
      ops: fc.constantFrom(PROBE, PROBE | GET, PROBE | SET, PROBE | GET | SET),
      data: data().map((bytes) => ({ kind: "raw" as const, bytes })),
    }),
    fc.record({
      feature: fc.constant(2),
      ops: fc.constant(SET),
      data: fc.record({
        kind: fc.constant("mig-state" as const),
        deviceState: fc.nat(7),
        dataFd: u32,
      }),
    }),
    fc.record({
      feature: fc.constant(6),
      ops: fc.constant(SET),
      data: fc.record({
        kind: fc.constant("dma-logging-control" as const),
        pageSize: u64,
        ranges: fc.array(
          range.map((r) => ({ iova: r.start, length: r.len })),
          { maxLength: 4 },
        ),
      }),
    }),
    fc.record({
      feature: fc.constant(7),
      ops: fc.constant(SET),
      data: data().map((bytes) => ({ kind: "raw" as const, bytes })),
    }),
  ];
  if (direction === "reply") {
    choices.push(
      fc.record({
        feature: fc.constant(1),
        ops: fc.constant(GET),
        data: fc.record({ kind: fc.constant("migration" as const), flags: u64 }),
      }),
      fc.record({
        feature: fc.constant(2),
        ops: fc.constant(GET),
        data: fc.record({
          kind: fc.constant("mig-state" as const),
          deviceState: fc.nat(7),
          dataFd: u32,
        }),
      }),
      report.chain((r) => {
        const pages = (r.length + r.pageSize - 1n) / r.pageSize;
        const n = Number(((pages + 63n) / 64n) * 8n);
        return fc.record({
          feature: fc.constant(8),
          ops: fc.constant(GET),
          data: fc.uint8Array({ minLength: n, maxLength: n }).map((bitmap) => ({
            kind: "dma-logging-report" as const,
            ...r,
            bitmap,
          })),
        });
      }),
    );
  } else {
    choices.push(
      fc.record({
        feature: fc.constantFrom(1, 2),
        ops: fc.constant(GET),
        data: fc.constant({ kind: "raw" as const, bytes: new Uint8Array(0) }),
      }),
      fc.record({
        feature: fc.constant(8),
        ops: fc.constant(GET),
        data: report.map((r) => ({ kind: "dma-logging-report" as const, ...r })),
      }),
    );
  }
  return fc.tuple(fc.oneof(...choices), fc.nat(256)).map(([m, extra]) => {
    const size = 8 + featureBytes(m.data);
    const isGet = (m.ops & (GET | PROBE)) === GET;
    return { ...m, argsz: direction === "request" && isGet ? 8 + extra : size + extra };
  });
}

function featureBytes(d: FeatureData): number {
  switch (d.kind) {
    case "raw":
      return d.bytes.byteLength;
    case "migration":
    case "mig-state":
      return 8;
    case "dma-logging-control":
      return 16 + 16 * d.ranges.length;
    case "dma-logging-report":
      return 24 + (d.bitmap?.byteLength ?? 0);
  }
}

const argszAtLeast = (min: number) => fc.integer({ min, max: 0xffffffff });

type Gen = {
  [C in CommandId]: { request: fc.Arbitrary<RequestMap[C]>; reply: fc.Arbitrary<ReplyMap[C]> };
};

const empty = fc.constant({} as Record<string, never>);
const mapFlags = fc.integer({ min: 0, max: 3 });

const rawGenerators: Gen = {
  [Command.VFIO_USER_VERSION]: { request: version, reply: version },
  [Command.VFIO_USER_DMA_MAP]: {
    request: fc
      .tuple(argszAtLeast(32), mapFlags, range, u64)
      .filter(([, , r, off]) => off + r.len < 1n << 64n)
      .map(([argsz, flags, r, offset]) => ({
        argsz,
        flags,
        offset,
        address: r.start,
        size: r.len,
      })),
    reply: empty,
  },
  [Command.VFIO_USER_DMA_UNMAP]: {
    request: fc.oneof(
      fc
        .tuple(argszAtLeast(24), range)
        .map(([argsz, r]) => ({ argsz, flags: 0, address: r.start, size: r.len })),
      argszAtLeast(24).map((argsz) => ({ argsz, flags: 2, address: 0n, size: 0n })),
      fc
        .record({
          address: fc.bigInt({ min: 0n, max: (1n << 64n) - (1n << 40n) }),
          size: fc.bigInt({ min: 1n, max: 1n << 40n }),
          shift: fc.integer({ min: 12, max: 30 }),
          extra: fc.nat(64),
        })
        .map(({ address, size, shift, extra }) => {
          const pgsize = 1n << BigInt(shift);
          const need = Number((((size + pgsize - 1n) / pgsize + 63n) / 64n) * 8n) + extra;
          return { argsz: 40 + need, flags: 1, address, size, bitmap: { pgsize, size: need } };
        }),
    ),
    reply: fc.oneof(
      fc
        .tuple(argszAtLeast(24), range)
        .map(([argsz, r]) => ({ argsz, flags: 0, address: r.start, size: r.len })),
      fc.tuple(range, pow2, data()).map(([r, pgsize, bitmap]) => ({
        argsz: 40 + bitmap.byteLength,
        flags: 1,
        address: r.start,
        size: r.len,
        bitmap: { pgsize, data: bitmap },
      })),
    ),
  },
  [Command.VFIO_USER_DEVICE_GET_INFO]: {
    request: argszAtLeast(16).map((argsz) => ({ argsz })),
    reply: fc.record({ argsz: argszAtLeast(16), flags: u32, numRegions: u32, numIrqs: u32 }),
  },
  [Command.VFIO_USER_DEVICE_GET_REGION_INFO]: {
    request: fc.record({ argsz: argszAtLeast(32), index: u32 }),
    reply: fc
      .record({
        reqArgsz: fc.oneof(argszAtLeast(32), fc.integer({ min: 32, max: 200 })),
        flags: u32,
        index: u32,
        size: u64,
        offset: u64,
        caps: fc.array(regionCap, { maxLength: 4 }),
      })
      .map(({ reqArgsz, ...r }) =>
        fitReply(Command.VFIO_USER_DEVICE_GET_REGION_INFO, reqArgsz, { argsz: 0, ...r }),
      ),
  },
  [Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS]: {
    request: fc.record({ argsz: argszAtLeast(16), index: u32 }),
    reply: fc
      .record({
        reqArgsz: fc.oneof(argszAtLeast(16), fc.integer({ min: 16, max: 200 })),
        index: u32,
        subRegions: fc.array(subRegion, { maxLength: 5 }),
      })
      .map(({ reqArgsz, ...r }) =>
        fitReply(Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS, reqArgsz, {
          argsz: 0,
          count: 0,
          ...r,
        }),
      ),
  },
  [Command.VFIO_USER_DEVICE_GET_IRQ_INFO]: {
    request: fc.record({ argsz: argszAtLeast(16), index: u32 }),
    reply: fc.record({ argsz: argszAtLeast(16), flags: u32, index: u32, count: u32 }),
  },
  [Command.VFIO_USER_DEVICE_SET_IRQS]: {
    request: fc
      .record({
        argsz: argszAtLeast(20),
        action: fc.constantFrom("mask" as const, "unmask" as const, "trigger" as const),
        data: fc.constantFrom("none" as const, "bool" as const, "eventfd" as const),
        index: u32,
        start: u32,
        bools: data(),
      })
      .filter((v) => v.start + v.bools.byteLength <= 0xffffffff)
      .map(({ bools, ...v }) => ({
        ...v,
        count: bools.byteLength,
        ...(v.data === "bool" ? { bools } : {}),
      })),
    reply: empty,
  },
  [Command.VFIO_USER_REGION_READ]: {
    request: fc
      .record({ offset: u64, region: u32, count: u32 })
      .filter((v) => v.offset + BigInt(v.count) <= 1n << 64n),
    reply: fc.record({ offset: fc.bigInt({ min: 0n, max: 1n << 62n }), region: u32, data: data() }),
  },
  [Command.VFIO_USER_REGION_WRITE]: {
    request: fc.record({
      offset: fc.bigInt({ min: 0n, max: 1n << 62n }),
      region: u32,
      data: data(),
    }),
    reply: fc
      .record({ offset: u64, region: u32, count: u32 })
      .filter((v) => v.offset + BigInt(v.count) <= 1n << 64n),
  },
  [Command.VFIO_USER_DMA_READ]: {
    request: fc
      .record({ address: u64, count: fc.nat(0xffffffff - 32) })
      .filter((v) => v.address + BigInt(v.count) <= 1n << 64n),
    reply: fc.record({ address: fc.bigInt({ min: 0n, max: 1n << 62n }), data: data() }),
  },
  [Command.VFIO_USER_DMA_WRITE]: {
    request: fc.record({ address: fc.bigInt({ min: 0n, max: 1n << 62n }), data: data() }),
    reply: fc.oneof(empty, fc.record({ address: u64, count: fc.nat(0xffffffff - 32) })),
  },
  [Command.VFIO_USER_DEVICE_RESET]: { request: empty, reply: empty },
  [Command.VFIO_USER_REGION_WRITE_MULTI]: {
    request: fc.record({
      writes: fc.array(
        fc.record({ offset: fc.bigInt({ min: 0n, max: 1n << 62n }), region: u32, data: data(8) }),
        { maxLength: 10 },
      ),
    }),
    reply: fc.record({ wrCnt: fc.nat(200) }),
  },
  [Command.VFIO_USER_DEVICE_FEATURE]: {
    request: featureMessage("request"),
    reply: fc.oneof(
      featureMessage("reply").map((m) => {
        const isGet = (m.ops & 0x50000) === 0x10000;
        return isGet ? { ...m, argsz: 8 + featureBytes(m.data) } : m;
      }),
      featureMessage("reply")
        .filter((m) => (m.ops & 0x50000) === 0x10000)
        .map((m) => fitReply(Command.VFIO_USER_DEVICE_FEATURE, 8, m)),
    ),
  },
  [Command.VFIO_USER_MIG_DATA_READ]: {
    request: fc.record({ argsz: argszAtLeast(8), size: u32 }),
    reply: data().map((d) => ({ argsz: 8 + d.byteLength, data: d })),
  },
  [Command.VFIO_USER_MIG_DATA_WRITE]: {
    request: fc.record({ argsz: u32, data: data() }),
    reply: empty,
  },
};

/** fast-check builds records with a null prototype; decoders return plain objects. */
export function plain<T>(v: T): T {
  if (Array.isArray(v)) return v.map(plain) as T;
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) as T;
}

export const generators = Object.fromEntries(
  Object.entries(rawGenerators).map(([c, g]) => [
    c,
    { request: g.request.map(plain), reply: g.reply.map(plain) },
  ]),
) as unknown as Gen;

/** fds a valid message of this command and direction needs (so decoders accept it). */
export function fdsFor(command: CommandId, direction: "request" | "reply", v: unknown): number {
  if (command === Command.VFIO_USER_DEVICE_SET_IRQS && direction === "request") {
    const s = v as RequestMap[8];
    return s.data === "eventfd" ? s.count : 0;
  }
  if (command === Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS && direction === "reply") {
    const r = v as ReplyMap[6];
    return r.subRegions.length > 0 ? 4 : 0;
  }
  if (command === Command.VFIO_USER_DEVICE_GET_REGION_INFO && direction === "reply") {
    return ((v as ReplyMap[5]).flags & 4) !== 0 ? 1 : 0;
  }
  if (command === Command.VFIO_USER_DMA_MAP && direction === "request") return 1;
  return 0;
}

export const ALL_COMMANDS: CommandId[] = Object.values(Command);
