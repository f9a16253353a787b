/** Submission and completion queue entries (NVMe Base 1.4, sections 4.2 and 4.6). */
import { CQE_SIZE, SQE_SIZE } from "./regs.js";

/** A decoded 64-byte submission queue entry. */
export interface Sqe {
  readonly opcode: number;
  /** Fused operation (0 = normal). */
  readonly fuse: number;
  /** PRP or SGL for data transfer: 0 = PRPs. */
  readonly psdt: number;
  readonly cid: number;
  readonly nsid: number;
  readonly prp1: bigint;
  readonly prp2: bigint;
  readonly cdw10: number;
  readonly cdw11: number;
  readonly cdw12: number;
  readonly cdw13: number;
  readonly cdw14: number;
  readonly cdw15: number;
}

export function decodeSqe(bytes: Uint8Array, at = 0): Sqe {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, SQE_SIZE);
  const dw0 = v.getUint32(0, true);
  return {
    opcode: dw0 & 0xff,
    fuse: (dw0 >>> 8) & 3,
    psdt: (dw0 >>> 14) & 3,
    cid: dw0 >>> 16,
    nsid: v.getUint32(4, true),
    prp1: v.getBigUint64(24, true),
    prp2: v.getBigUint64(32, true),
    cdw10: v.getUint32(40, true),
    cdw11: v.getUint32(44, true),
    cdw12: v.getUint32(48, true),
    cdw13: v.getUint32(52, true),
    cdw14: v.getUint32(56, true),
    cdw15: v.getUint32(60, true),
  };
}

/**
 * Dwords 0-2 of a completion entry (the result, SQ head and SQ id), and dword 3 (the
 * command id, phase tag and status) apart: the host takes an entry as new when it sees
 * the phase tag, so dword 3 must land last.
 */
export function encodeCqe(
  result: number,
  sqHead: number,
  sqid: number,
  cid: number,
  phase: number,
  status: number,
): { head: Uint8Array; dw3: Uint8Array } {
  const b = new Uint8Array(CQE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, result >>> 0, true);
  v.setUint16(8, sqHead, true);
  v.setUint16(10, sqid, true);
  v.setUint16(12, cid, true);
  v.setUint16(14, (phase & 1) | ((status & 0x7fff) << 1), true);
  return { head: b.subarray(0, 12), dw3: b.subarray(12, 16) };
}
