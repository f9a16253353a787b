/**
 * Builders of the admin commands (base spec 2.0, section 5) and the NVM I/O commands
 * (NVM command set spec, section 3) this driver issues. Pure: each returns the
 * NvmeCommand to submit; data pointers are filled in by the caller.
 */
import type { NvmeCommand } from "./sqe.js";

export const ADMIN_DELETE_SQ = 0x00;
export const ADMIN_CREATE_SQ = 0x01;
export const ADMIN_GET_LOG_PAGE = 0x02;
export const ADMIN_DELETE_CQ = 0x04;
export const ADMIN_CREATE_CQ = 0x05;
export const ADMIN_IDENTIFY = 0x06;
export const ADMIN_ABORT = 0x08;
export const ADMIN_SET_FEATURES = 0x09;
export const ADMIN_GET_FEATURES = 0x0a;

export const IO_FLUSH = 0x00;
export const IO_WRITE = 0x01;
export const IO_READ = 0x02;
export const IO_WRITE_ZEROES = 0x08;
export const IO_DSM = 0x09;

export const CNS_NAMESPACE = 0x00;
export const CNS_CONTROLLER = 0x01;
export const CNS_ACTIVE_NAMESPACES = 0x02;

export const FID_ARBITRATION = 0x01;
export const FID_POWER_MANAGEMENT = 0x02;
export const FID_TEMPERATURE_THRESHOLD = 0x04;
export const FID_ERROR_RECOVERY = 0x05;
export const FID_VOLATILE_WRITE_CACHE = 0x06;
export const FID_NUMBER_OF_QUEUES = 0x07;
export const FID_INTERRUPT_COALESCING = 0x08;
export const FID_ASYNC_EVENT_CONFIG = 0x0b;

/** Get Features SEL: which value to report. */
export type FeatureSelect = "current" | "default" | "saved" | "capabilities";
const SEL = { current: 0, default: 1, saved: 2, capabilities: 3 } as const;

/** Broadcast NSID: every namespace. */
export const NSID_ALL = 0xffffffff;

export function identify(cns: number, nsid = 0, cntid = 0): NvmeCommand {
  return { opcode: ADMIN_IDENTIFY, nsid, cdw10: (cns & 0xff) | ((cntid & 0xffff) << 16) };
}

/**
 * Create I/O Completion Queue: physically contiguous, `entries` long, interrupts
 * enabled on vector `vector` unless it is null (a polled queue).
 */
export function createIoCq(qid: number, entries: number, vector: number | null): NvmeCommand {
  const ien = vector === null ? 0 : 1 << 1;
  return {
    opcode: ADMIN_CREATE_CQ,
    cdw10: (qid & 0xffff) | (((entries - 1) & 0xffff) << 16),
    cdw11: (1 | ien | (((vector ?? 0) & 0xffff) << 16)) >>> 0,
  };
}

/** Create I/O Submission Queue: physically contiguous, bound to completion queue `cqid`. */
export function createIoSq(qid: number, entries: number, cqid: number): NvmeCommand {
  return {
    opcode: ADMIN_CREATE_SQ,
    cdw10: (qid & 0xffff) | (((entries - 1) & 0xffff) << 16),
    cdw11: (1 | ((cqid & 0xffff) << 16)) >>> 0,
  };
}

export function deleteIoSq(qid: number): NvmeCommand {
  return { opcode: ADMIN_DELETE_SQ, cdw10: qid & 0xffff };
}

export function deleteIoCq(qid: number): NvmeCommand {
  return { opcode: ADMIN_DELETE_CQ, cdw10: qid & 0xffff };
}

/** Get Log Page of `bytes` (a multiple of 4) from `offset`. */
export function getLogPage(lid: number, bytes: number, nsid = NSID_ALL, offset = 0n): NvmeCommand {
  const numd = bytes / 4 - 1;
  return {
    opcode: ADMIN_GET_LOG_PAGE,
    nsid,
    cdw10: ((lid & 0xff) | ((numd & 0xffff) << 16)) >>> 0,
    cdw11: (numd >>> 16) & 0xffff,
    cdw12: Number(offset & 0xffffffffn),
    cdw13: Number((offset >> 32n) & 0xffffffffn),
  };
}

export function setFeatures(fid: number, value: number, nsid = 0, save = false): NvmeCommand {
  return {
    opcode: ADMIN_SET_FEATURES,
    nsid,
    cdw10: ((fid & 0xff) | (save ? 1 << 31 : 0)) >>> 0,
    cdw11: value >>> 0,
  };
}

export function getFeatures(fid: number, select: FeatureSelect = "current", nsid = 0): NvmeCommand {
  return { opcode: ADMIN_GET_FEATURES, nsid, cdw10: (fid & 0xff) | (SEL[select] << 8) };
}

/** Set Features Number of Queues: the counts are 1-based here, 0's based on the wire. */
export function setNumberOfQueues(submission: number, completion: number): NvmeCommand {
  return setFeatures(
    FID_NUMBER_OF_QUEUES,
    (((completion - 1) & 0xffff) << 16) | ((submission - 1) & 0xffff),
  );
}

/** The queues a controller granted (Number of Queues result dword 0), 1-based. */
export function decodeNumberOfQueues(result: number): { submission: number; completion: number } {
  return { submission: (result & 0xffff) + 1, completion: (result >>> 16) + 1 };
}

export function abort(sqid: number, cid: number): NvmeCommand {
  return { opcode: ADMIN_ABORT, cdw10: ((sqid & 0xffff) | ((cid & 0xffff) << 16)) >>> 0 };
}

/** Read or Write of `blocks` logical blocks (1..65536) from `lba`. */
export function readWrite(write: boolean, nsid: number, lba: bigint, blocks: number): NvmeCommand {
  return {
    opcode: write ? IO_WRITE : IO_READ,
    nsid,
    cdw10: Number(lba & 0xffffffffn),
    cdw11: Number((lba >> 32n) & 0xffffffffn),
    cdw12: (blocks - 1) & 0xffff,
  };
}

export function writeZeroes(
  nsid: number,
  lba: bigint,
  blocks: number,
  deallocate = false,
): NvmeCommand {
  return {
    opcode: IO_WRITE_ZEROES,
    nsid,
    cdw10: Number(lba & 0xffffffffn),
    cdw11: Number((lba >> 32n) & 0xffffffffn),
    // DEAC (bit 25): the controller may deallocate instead of writing zeroes.
    cdw12: (((blocks - 1) & 0xffff) | (deallocate ? 1 << 25 : 0)) >>> 0,
  };
}

export function flush(nsid: number): NvmeCommand {
  return { opcode: IO_FLUSH, nsid };
}

/** One Dataset Management range. */
export interface DsmRange {
  readonly lba: bigint;
  readonly blocks: number;
  readonly attributes?: number;
}

/** Dataset Management with the Deallocate attribute, for `ranges` (1..256) in a buffer. */
export function datasetManagement(nsid: number, ranges: number): NvmeCommand {
  return { opcode: IO_DSM, nsid, cdw10: (ranges - 1) & 0xff, cdw11: 1 << 2 };
}

/** The range list of Dataset Management: 16 bytes per range. */
export function encodeDsmRanges(ranges: readonly DsmRange[]): Uint8Array {
  const out = new Uint8Array(ranges.length * 16);
  const v = new DataView(out.buffer);
  ranges.forEach((r, i) => {
    v.setUint32(i * 16, (r.attributes ?? 0) >>> 0, true);
    v.setUint32(i * 16 + 4, r.blocks >>> 0, true);
    v.setBigUint64(i * 16 + 8, BigInt.asUintN(64, r.lba), true);
  });
  return out;
}
