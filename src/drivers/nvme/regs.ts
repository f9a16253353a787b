/**
 * The NVMe controller registers in BAR0 (NVMe base specification 1.4/2.0, section 3.1),
 * as the driver sees them. The driver owns its own copy of the register map, as a kernel
 * driver does, instead of sharing one with a device model: the two sides meet only at
 * the bus, so a model bug cannot hide behind a shared constant.
 */

/** Controller registers live in BAR0 (a 64-bit memory BAR). */
export const NVME_BAR = 0;

export const REG_CAP = 0x00; // 64-bit: capabilities
export const REG_VS = 0x08; // version
export const REG_INTMS = 0x0c; // interrupt mask set (INTx/MSI only)
export const REG_INTMC = 0x10; // interrupt mask clear
export const REG_CC = 0x14; // controller configuration
export const REG_CSTS = 0x1c; // controller status
export const REG_AQA = 0x24; // admin queue attributes
export const REG_ASQ = 0x28; // 64-bit: admin SQ base
export const REG_ACQ = 0x30; // 64-bit: admin CQ base
/** Doorbells start here, spaced by the CAP.DSTRD stride. */
export const REG_DOORBELL_BASE = 0x1000;

export const CC_EN = 1 << 0;
/** CC.CSS (bits 6:4): 000b selects the NVM command set. */
export const CC_CSS_NVM = 0 << 4;
/** CC.SHN (bits 15:14): 01b normal shutdown. */
export const CC_SHN_NORMAL = 1 << 14;
export const CC_SHN_MASK = 3 << 14;

export const CSTS_RDY = 1 << 0;
/** Controller Fatal Status: the controller hit an error it cannot recover from itself. */
export const CSTS_CFS = 1 << 1;
/** CSTS.SHST (bits 3:2): 10b shutdown processing complete. */
export const CSTS_SHST_MASK = 3 << 2;
export const CSTS_SHST_COMPLETE = 2 << 2;

/** Submission and completion queue entry sizes, as log2 (CC.IOSQES / CC.IOCQES). */
export const SQE_SIZE_LOG2 = 6;
export const CQE_SIZE_LOG2 = 4;
export const SQE_SIZE = 1 << SQE_SIZE_LOG2;
export const CQE_SIZE = 1 << CQE_SIZE_LOG2;

/** The memory page size this driver uses (CC.MPS = 0: 4 KiB). */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/** CAP, decoded. */
export interface NvmeCap {
  /** Maximum queue entries supported, 1-based (CAP.MQES is 0's based). */
  readonly maxQueueEntries: number;
  /** Contiguous queues required. */
  readonly contiguousQueuesRequired: boolean;
  /** CAP.TO: worst-case time to become ready or not ready, in milliseconds. */
  readonly timeoutMs: number;
  /** Doorbell stride in bytes (4 << CAP.DSTRD). */
  readonly doorbellStride: number;
  /** NVM subsystem reset supported. */
  readonly subsystemReset: boolean;
  /** CAP.CSS bits: bit 0 the NVM command set, bit 6 I/O command sets, bit 7 admin only. */
  readonly commandSets: number;
  /** Memory page sizes supported, in bytes. */
  readonly minPageSize: number;
  readonly maxPageSize: number;
}

export function decodeCap(cap: bigint): NvmeCap {
  const lo = Number(cap & 0xffffffffn);
  const hi = Number(cap >> 32n) >>> 0;
  return {
    maxQueueEntries: (lo & 0xffff) + 1,
    contiguousQueuesRequired: (lo & (1 << 16)) !== 0,
    timeoutMs: ((lo >>> 24) & 0xff) * 500,
    doorbellStride: 4 << (hi & 0xf),
    subsystemReset: (hi & (1 << 4)) !== 0,
    commandSets: (hi >>> 5) & 0xff,
    minPageSize: 2 ** (12 + ((hi >>> 16) & 0xf)),
    maxPageSize: 2 ** (12 + ((hi >>> 20) & 0xf)),
  };
}

/** The VS register as "major.minor.tertiary". */
export function formatVersion(vs: number): string {
  return `${vs >>> 16}.${(vs >>> 8) & 0xff}.${vs & 0xff}`;
}

/** CC for an enabled controller with the NVM command set and this driver's entry sizes. */
export function enableCc(): number {
  return (
    CC_EN |
    CC_CSS_NVM |
    ((PAGE_SHIFT - 12) << 7) | // MPS
    (0 << 11) | // AMS: round robin
    (SQE_SIZE_LOG2 << 16) |
    (CQE_SIZE_LOG2 << 20)
  );
}

/** AQA: admin SQ and CQ sizes, both 0's based. */
export function encodeAqa(sqEntries: number, cqEntries: number): number {
  return (((cqEntries - 1) << 16) | (sqEntries - 1)) >>> 0;
}

/** Offset of queue `qid`'s SQ tail doorbell (or its CQ head doorbell). */
export function doorbellOffset(qid: number, completion: boolean, stride: number): number {
  return REG_DOORBELL_BASE + (2 * qid + (completion ? 1 : 0)) * stride;
}
