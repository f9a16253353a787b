/**
 * NVMe controller registers (NVMe Base 1.4, section 3.1) and the fixed facts of this
 * model: offsets, bit fields, and the capabilities it reports.
 */

export const REG_CAP = 0x00;
export const REG_VS = 0x08;
export const REG_INTMS = 0x0c;
export const REG_INTMC = 0x10;
export const REG_CC = 0x14;
export const REG_CSTS = 0x1c;
export const REG_NSSR = 0x20;
export const REG_AQA = 0x24;
export const REG_ASQ = 0x28;
export const REG_ACQ = 0x30;
/** First doorbell: SQ y tail at 0x1000 + (2y) * stride, CQ y head at 0x1000 + (2y+1) * stride. */
export const REG_DOORBELLS = 0x1000;

export const CC_EN = 1 << 0;
export const CSTS_RDY = 1 << 0;
export const CSTS_CFS = 1 << 1;
export const CSTS_SHST_OCCURRING = 1 << 2;
export const CSTS_SHST_COMPLETE = 2 << 2;
export const CSTS_SHST_MASK = 3 << 2;

export const ccCss = (cc: number) => (cc >>> 4) & 7;
export const ccMps = (cc: number) => (cc >>> 7) & 0xf;
export const ccAms = (cc: number) => (cc >>> 11) & 7;
export const ccShn = (cc: number) => (cc >>> 14) & 3;
export const ccIosqes = (cc: number) => (cc >>> 16) & 0xf;
export const ccIocqes = (cc: number) => (cc >>> 20) & 0xf;

/** NVMe 1.4.0. */
export const VERSION = 0x00010400;
/** The only memory page size: 4 KiB (CAP.MPSMIN = MPSMAX = 0). */
export const PAGE_SIZE = 4096;
export const SQE_SIZE = 64;
export const CQE_SIZE = 16;
/** log2 of the entry sizes, as CC.IOSQES/IOCQES and Identify SQES/CQES give them. */
export const SQES_LOG2 = 6;
export const CQES_LOG2 = 4;
/** Largest queue: 1024 entries (CAP.MQES is 0-based). */
export const MAX_QUEUE_ENTRIES = 1024;
/** CAP.DSTRD: doorbells 4 << DSTRD bytes apart. */
export const DSTRD = 0;
export const DOORBELL_STRIDE = 4 << DSTRD;
/** CAP.TO in 500 ms units: how long the host waits for RDY (a disable drains I/O). */
export const TIMEOUT_UNITS = 20;

/** BAR0: registers, doorbells, then the MSI-X table and PBA on their own pages. */
export const BAR0_SIZE = 0x4000;
export const MSIX_TABLE_OFFSET = 0x2000;
export const MSIX_PBA_OFFSET = 0x3000;

/**
 * CAP: MQES, CQR (contiguous queues required), TO, DSTRD, CSS = NVM command set,
 * MPSMIN = MPSMAX = 4 KiB. No NVM subsystem reset, no boot partitions, no CMB/PMR.
 */
export function capValue(): bigint {
  return (
    BigInt(MAX_QUEUE_ENTRIES - 1) |
    (1n << 16n) | // CQR
    (BigInt(TIMEOUT_UNITS) << 24n) |
    (BigInt(DSTRD) << 32n) |
    (1n << 37n) // CSS bit 0: the NVM command set
  );
}

/** Which queue a doorbell offset rings, or undefined outside the doorbells. */
export function doorbellAt(
  offset: number,
  queues: number,
): { qid: number; cq: boolean } | undefined {
  if (offset < REG_DOORBELLS || (offset - REG_DOORBELLS) % DOORBELL_STRIDE !== 0) return undefined;
  const index = (offset - REG_DOORBELLS) / DOORBELL_STRIDE;
  const qid = index >> 1;
  if (qid >= queues) return undefined;
  return { qid, cq: (index & 1) === 1 };
}
