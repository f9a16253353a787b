/**
 * The NVMe controller's migration state as bytes: registers, queues, features,
 * outstanding Asynchronous Event Requests and queued events, the error log and the
 * SMART counters. Pure: `encodeControllerState` and `decodeControllerState` know no
 * controller. Decoding is bounded (every count is checked against a small limit before
 * anything is allocated) and validated (ids, sizes, pointers inside their queues, every
 * SQ bound to a CQ that exists); whatever is wrong throws a VfioError EINVAL that says
 * what. Checks against the destination's own controller (its queue count, namespace)
 * are the caller's: see migration.ts.
 *
 *   "NVMS" | version u16 | reserved u16 | body (little endian, in the order below)
 */
import { VfioError } from "../../errors.js";
import type { ErrorEntry } from "./log-pages.js";

/** Bumped whenever the layout changes: an unknown version is refused. */
export const STATE_VERSION = 1;
const MAGIC = 0x534d564e; // "NVMS" little endian

/** Queue ids 0 (admin) to 64: the most I/O queues a controller model offers. */
export const MAX_QID = 64;
/** Entries in a queue: AQA and CAP.MQES allow at most 4096. */
export const MAX_QUEUE_SIZE = 4096;
const MAX_FEATURE_VALUES = 256;
const MAX_TEMPERATURE_KEYS = 64;
const MAX_VECTOR_CONFIGS = MAX_QID + 1;
const MAX_EVENTS = 16;
const MAX_ERROR_ENTRIES = 64;

/** The controller registers that migrate (NVMe Base 1.4, section 3.1). */
export interface RegisterState {
  /** Controller Configuration. */
  readonly cc: number;
  /** Controller Status. */
  readonly csts: number;
  /** Admin Queue Attributes (both sizes, 0-based). */
  readonly aqa: number;
  /** Admin Submission Queue base address. */
  readonly asq: bigint;
  /** Admin Completion Queue base address. */
  readonly acq: bigint;
  /** Interrupt Mask (INTMS/INTMC: bit 0 masks INTx). */
  readonly intms: number;
}

export interface NamespaceState {
  /** Memory travels with the migration; a file is shared storage. */
  readonly backing: "memory" | "file";
  readonly size: number;
  readonly blockSize: number;
}

/** A completion the CQ holds back because the queue is full. */
export interface WaitingCompletion {
  readonly sqid: number;
  readonly cid: number;
  readonly result: number;
  readonly status: number;
}

export interface CqState {
  readonly id: number;
  readonly base: bigint;
  readonly size: number;
  readonly vector: number;
  readonly ien: boolean;
  readonly head: number;
  readonly tail: number;
  readonly phase: number;
  readonly waiting: readonly WaitingCompletion[];
}

export interface SqState {
  readonly id: number;
  readonly base: bigint;
  readonly size: number;
  readonly cqid: number;
  readonly head: number;
  readonly tail: number;
}

export interface FeatureState {
  /** Number of Queues as allocated (NSQA | NCQA << 16). */
  readonly queues: number;
  readonly values: readonly (readonly [number, number])[];
  readonly temperature: readonly (readonly [number, number])[];
  readonly vectorConfig: readonly (readonly [number, number])[];
}

/** One Error Information log entry, as the log holds it. */
export type ErrorEntryState = ErrorEntry;

export interface HealthState {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly readCommands: bigint;
  readonly writeCommands: bigint;
  readonly mediaErrors: bigint;
}

/** Everything of the controller that moves, apart from the namespace's data. */
export interface ControllerState {
  readonly maxIoQueues: number;
  readonly mdts: number;
  readonly registers: RegisterState;
  readonly namespace: NamespaceState;
  readonly cqs: readonly CqState[];
  readonly sqs: readonly SqState[];
  readonly features: FeatureState;
  /** CIDs of the Asynchronous Event Requests the controller holds, oldest first. */
  readonly aerCids: readonly number[];
  /** Events waiting for a request (completion dword 0). */
  readonly events: readonly number[];
  readonly errorCount: bigint;
  readonly errors: readonly ErrorEntryState[];
  readonly health: HealthState;
}

class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #at = 0;

  #room(n: number): void {
    if (this.#at + n <= this.#buf.byteLength) return;
    const next = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.#at + n));
    next.set(this.#buf);
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.#room(1);
    this.#view.setUint8(this.#at, v);
    this.#at += 1;
  }

  u16(v: number): void {
    this.#room(2);
    this.#view.setUint16(this.#at, v, true);
    this.#at += 2;
  }

  u32(v: number): void {
    this.#room(4);
    this.#view.setUint32(this.#at, v >>> 0, true);
    this.#at += 4;
  }

  u64(v: bigint | number): void {
    this.#room(8);
    this.#view.setBigUint64(this.#at, BigInt(v), true);
    this.#at += 8;
  }

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }
}

class Reader {
  readonly #view: DataView;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number, what: string): void {
    if (this.#at + n > this.#view.byteLength) {
      bad(`truncated at byte ${this.#at} (${what}): ${this.#view.byteLength} bytes in all`);
    }
  }

  u8(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.#at++);
  }

  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.#at, true);
    this.#at += 2;
    return v;
  }

  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return v;
  }

  u64(what: string): bigint {
    this.#need(8, what);
    const v = this.#view.getBigUint64(this.#at, true);
    this.#at += 8;
    return v;
  }

  /** A u64 that must fit a JS number exactly. */
  safe(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} ${v} is too large`);
    return Number(v);
  }

  /** A count, refused above `max` before anything is allocated for it. */
  count(what: string, max: number): number {
    const n = this.u32(what);
    if (n > max) bad(`${n} ${what}, at most ${max}`);
    return n;
  }

  end(): void {
    const left = this.#view.byteLength - this.#at;
    if (left !== 0) bad(`${left} bytes after the end of the state`);
  }
}

function bad(message: string): never {
  throw new VfioError("EINVAL", `NVMe migration state: ${message}`);
}

function pairs(w: Writer, list: readonly (readonly [number, number])[]): void {
  w.u32(list.length);
  for (const [k, v] of list) {
    w.u32(k);
    w.u32(v);
  }
}

/** The state as bytes (see the file comment for the layout). */
export function encodeControllerState(s: ControllerState): Uint8Array {
  const w = new Writer();
  w.u32(MAGIC);
  w.u16(STATE_VERSION);
  w.u16(0);
  w.u8(s.maxIoQueues);
  w.u8(s.mdts);
  const r = s.registers;
  w.u32(r.cc);
  w.u32(r.csts);
  w.u32(r.aqa);
  w.u64(r.asq);
  w.u64(r.acq);
  w.u32(r.intms);
  w.u8(s.namespace.backing === "memory" ? 0 : 1);
  w.u64(s.namespace.size);
  w.u32(s.namespace.blockSize);
  w.u32(s.cqs.length);
  for (const cq of s.cqs) {
    w.u16(cq.id);
    w.u64(cq.base);
    w.u16(cq.size);
    w.u16(cq.vector);
    w.u8(cq.ien ? 1 : 0);
    w.u16(cq.head);
    w.u16(cq.tail);
    w.u8(cq.phase);
    w.u32(cq.waiting.length);
    for (const c of cq.waiting) {
      w.u16(c.sqid);
      w.u16(c.cid);
      w.u32(c.result);
      w.u16(c.status);
    }
  }
  w.u32(s.sqs.length);
  for (const sq of s.sqs) {
    w.u16(sq.id);
    w.u64(sq.base);
    w.u16(sq.size);
    w.u16(sq.cqid);
    w.u16(sq.head);
    w.u16(sq.tail);
  }
  const f = s.features;
  w.u32(f.queues);
  pairs(w, f.values);
  pairs(w, f.temperature);
  pairs(w, f.vectorConfig);
  w.u32(s.aerCids.length);
  for (const cid of s.aerCids) w.u16(cid);
  w.u32(s.events.length);
  for (const e of s.events) w.u32(e);
  w.u64(s.errorCount);
  w.u32(s.errors.length);
  for (const e of s.errors) {
    w.u64(e.count);
    w.u16(e.sqid);
    w.u16(e.cid);
    w.u16(e.status);
    w.u32(e.nsid);
    w.u64(e.lba);
  }
  const h = s.health;
  w.u64(h.bytesRead);
  w.u64(h.bytesWritten);
  w.u64(h.readCommands);
  w.u64(h.writeCommands);
  w.u64(h.mediaErrors);
  return w.bytes();
}

function readPairs(
  r: Reader,
  what: string,
  max: number,
  keyMax: number,
): (readonly [number, number])[] {
  const n = r.count(what, max);
  const out: [number, number][] = [];
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const k = r.u32(what);
    const v = r.u32(what);
    if (k > keyMax) bad(`${what}: key ${k} is beyond ${keyMax}`);
    if (seen.has(k)) bad(`${what}: key ${k} twice`);
    seen.add(k);
    out.push([k, v]);
  }
  return out;
}

/** Size, head and tail of a queue: a size in 2..4096, pointers inside it. */
function checkRing(what: string, size: number, head: number, tail: number): void {
  if (size < 2 || size > MAX_QUEUE_SIZE)
    bad(`${what} has ${size} entries (2 to ${MAX_QUEUE_SIZE})`);
  if (head >= size || tail >= size)
    bad(`${what}: head ${head} or tail ${tail} beyond ${size} entries`);
}

/** Bytes from encodeControllerState back to the state; VfioError EINVAL on anything malformed. */
export function decodeControllerState(bytes: Uint8Array): ControllerState {
  const r = new Reader(bytes);
  if (r.u32("magic") !== MAGIC) bad("not an NVMe controller state (bad magic)");
  const version = r.u16("version");
  if (version !== STATE_VERSION) bad(`version ${version}, this controller reads ${STATE_VERSION}`);
  if (r.u16("reserved") !== 0) bad("reserved header bits set");
  const maxIoQueues = r.u8("maxIoQueues");
  if (maxIoQueues < 1 || maxIoQueues > MAX_QID) bad(`${maxIoQueues} I/O queues offered`);
  const mdts = r.u8("mdts");
  if (mdts > 20) bad(`MDTS ${mdts}`);
  const registers: RegisterState = {
    cc: r.u32("CC"),
    csts: r.u32("CSTS"),
    aqa: r.u32("AQA"),
    asq: r.u64("ASQ"),
    acq: r.u64("ACQ"),
    intms: r.u32("INTMS"),
  };
  const kind = r.u8("backing kind");
  if (kind > 1) bad(`backing kind ${kind}`);
  const size = r.safe("namespace size");
  const blockSize = r.u32("block size");
  if (size <= 0) bad("namespace size 0");
  if (blockSize !== 512 && blockSize !== 4096) bad(`block size ${blockSize}`);
  const namespace: NamespaceState = { backing: kind === 0 ? "memory" : "file", size, blockSize };

  const cqs: CqState[] = [];
  const cqCount = r.count("completion queues", MAX_QID + 1);
  const waitingSqids: { cq: number; sqid: number }[] = [];
  for (let i = 0; i < cqCount; i++) {
    const id = r.u16("CQ id");
    const base = r.u64("CQ base");
    const qsize = r.u16("CQ size");
    const vector = r.u16("CQ vector");
    const ien = r.u8("CQ IEN");
    const head = r.u16("CQ head");
    const tail = r.u16("CQ tail");
    const phase = r.u8("CQ phase");
    const what = `CQ ${id}`;
    if (id > MAX_QID) bad(`${what}: queue id beyond ${MAX_QID}`);
    if (cqs.some((q) => q.id === id)) bad(`${what} twice`);
    if (ien > 1 || phase > 1) bad(`${what}: IEN ${ien} or phase ${phase} is not a bit`);
    checkRing(what, qsize, head, tail);
    if ((base & 0xfffn) !== 0n) bad(`${what}: base 0x${base.toString(16)} is not page aligned`);
    const n = r.count(`completions waiting on ${what}`, MAX_QID * MAX_QUEUE_SIZE);
    const waiting: WaitingCompletion[] = [];
    for (let j = 0; j < n; j++) {
      const c = {
        sqid: r.u16("waiting SQ id"),
        cid: r.u16("waiting CID"),
        result: r.u32("waiting result"),
        status: r.u16("waiting status"),
      };
      waitingSqids.push({ cq: id, sqid: c.sqid });
      waiting.push(c);
    }
    cqs.push({ id, base, size: qsize, vector, ien: ien === 1, head, tail, phase, waiting });
  }
  const sqs: SqState[] = [];
  const sqCount = r.count("submission queues", MAX_QID + 1);
  for (let i = 0; i < sqCount; i++) {
    const sq = {
      id: r.u16("SQ id"),
      base: r.u64("SQ base"),
      size: r.u16("SQ size"),
      cqid: r.u16("SQ's CQ id"),
      head: r.u16("SQ head"),
      tail: r.u16("SQ tail"),
    };
    const what = `SQ ${sq.id}`;
    if (sq.id > MAX_QID) bad(`${what}: queue id beyond ${MAX_QID}`);
    if (sqs.some((q) => q.id === sq.id)) bad(`${what} twice`);
    checkRing(what, sq.size, sq.head, sq.tail);
    if ((sq.base & 0xfffn) !== 0n)
      bad(`${what}: base 0x${sq.base.toString(16)} is not page aligned`);
    if (!cqs.some((q) => q.id === sq.cqid))
      bad(`${what} posts to CQ ${sq.cqid}, which does not exist`);
    if ((sq.id === 0) !== (sq.cqid === 0))
      bad(`${what} posts to CQ ${sq.cqid}: only the admin pair uses 0`);
    sqs.push(sq);
  }
  for (const cq of cqs) {
    const bound = sqs.filter((s) => s.cqid === cq.id);
    const room = bound.reduce((n, s) => n + s.size, 0);
    if (cq.waiting.length > room) {
      bad(`CQ ${cq.id} holds ${cq.waiting.length} completions, more than its SQs' ${room} entries`);
    }
  }
  for (const { cq, sqid } of waitingSqids) {
    if (!sqs.some((s) => s.id === sqid && s.cqid === cq)) {
      bad(`a completion waiting on CQ ${cq} is for SQ ${sqid}, which does not post there`);
    }
  }
  const hasAdmin = sqs.some((s) => s.id === 0);
  if (hasAdmin !== cqs.some((q) => q.id === 0)) bad("the admin SQ and CQ exist only together");
  if (!hasAdmin && (sqs.length > 0 || cqs.length > 0)) bad("I/O queues without admin queues");

  const features: FeatureState = {
    queues: r.u32("Number of Queues"),
    values: readPairs(r, "feature values", MAX_FEATURE_VALUES, 0xff),
    temperature: readPairs(r, "temperature thresholds", MAX_TEMPERATURE_KEYS, 0x3f),
    vectorConfig: readPairs(r, "interrupt vector configurations", MAX_VECTOR_CONFIGS, MAX_QID),
  };
  if ((features.queues & 0xffff) >= maxIoQueues || features.queues >>> 16 >= maxIoQueues) {
    bad(`Number of Queues 0x${features.queues.toString(16)} beyond ${maxIoQueues} queues`);
  }
  const aerCount = r.count("asynchronous event requests", MAX_EVENTS);
  const aerCids: number[] = [];
  for (let i = 0; i < aerCount; i++) aerCids.push(r.u16("AER CID"));
  if (new Set(aerCids).size !== aerCids.length) bad("an AER CID held twice");
  if (aerCids.length > 0 && !hasAdmin) bad("AERs held without an admin queue");
  const eventCount = r.count("queued events", MAX_EVENTS);
  const events: number[] = [];
  for (let i = 0; i < eventCount; i++) events.push(r.u32("event"));
  const errorCount = r.u64("error count");
  const errorEntries = r.count("error log entries", MAX_ERROR_ENTRIES);
  const errors: ErrorEntryState[] = [];
  for (let i = 0; i < errorEntries; i++) {
    errors.push({
      count: r.u64("error entry count"),
      sqid: r.u16("error entry SQ id"),
      cid: r.u16("error entry CID"),
      status: r.u16("error entry status"),
      nsid: r.u32("error entry NSID"),
      lba: r.u64("error entry LBA"),
    });
  }
  if (errors.some((e) => e.count > errorCount || e.count === 0n)) {
    bad(`an error log entry is not among the ${errorCount} errors counted`);
  }
  const health: HealthState = {
    bytesRead: r.safe("bytes read"),
    bytesWritten: r.safe("bytes written"),
    readCommands: r.u64("read commands"),
    writeCommands: r.u64("write commands"),
    mediaErrors: r.u64("media errors"),
  };
  r.end();
  return {
    maxIoQueues,
    mdts,
    registers,
    namespace,
    cqs,
    sqs,
    features,
    aerCids,
    events,
    errorCount,
    errors,
    health,
  };
}
