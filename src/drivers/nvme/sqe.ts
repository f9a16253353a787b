/**
 * Submission queue entries (base spec 2.0, figure 88): 64 bytes, little endian. The
 * driver builds a command as an NvmeCommand and the queue encodes it into its ring with
 * the command identifier it allocated.
 */
import { SQE_SIZE } from "./regs.js";

/** A command as the queue submits it; fields the command does not use stay 0. */
export interface NvmeCommand {
  readonly opcode: number;
  readonly nsid?: number;
  readonly prp1?: bigint;
  readonly prp2?: bigint;
  readonly cdw10?: number;
  readonly cdw11?: number;
  readonly cdw12?: number;
  readonly cdw13?: number;
  readonly cdw14?: number;
  readonly cdw15?: number;
}

/** Writes `cmd` with command identifier `cid` as the 64-byte entry at `offset` of `ring`. */
export function encodeSqe(ring: Uint8Array, offset: number, cmd: NvmeCommand, cid: number): void {
  const v = new DataView(ring.buffer, ring.byteOffset + offset, SQE_SIZE);
  // CDW0: opcode (7:0), FUSE (9:8) = normal, PSDT (15:14) = PRPs, CID (31:16).
  v.setUint32(0, ((cmd.opcode & 0xff) | ((cid & 0xffff) << 16)) >>> 0, true);
  v.setUint32(4, (cmd.nsid ?? 0) >>> 0, true);
  v.setBigUint64(8, 0n, true); // CDW2-3: reserved for the NVM command set
  v.setBigUint64(16, 0n, true); // MPTR: no separate metadata
  v.setBigUint64(24, BigInt.asUintN(64, cmd.prp1 ?? 0n), true);
  v.setBigUint64(32, BigInt.asUintN(64, cmd.prp2 ?? 0n), true);
  v.setUint32(40, (cmd.cdw10 ?? 0) >>> 0, true);
  v.setUint32(44, (cmd.cdw11 ?? 0) >>> 0, true);
  v.setUint32(48, (cmd.cdw12 ?? 0) >>> 0, true);
  v.setUint32(52, (cmd.cdw13 ?? 0) >>> 0, true);
  v.setUint32(56, (cmd.cdw14 ?? 0) >>> 0, true);
  v.setUint32(60, (cmd.cdw15 ?? 0) >>> 0, true);
}

/** An entry read back from a ring: what a controller would fetch. */
export interface DecodedSqe {
  readonly opcode: number;
  readonly fuse: number;
  readonly psdt: number;
  readonly cid: number;
  readonly nsid: number;
  readonly mptr: bigint;
  readonly prp1: bigint;
  readonly prp2: bigint;
  readonly cdw: readonly number[];
}

/** Decodes the entry at `offset` (the controller's view; used by tests and tracing). */
export function decodeSqe(ring: Uint8Array, offset: number): DecodedSqe {
  const v = new DataView(ring.buffer, ring.byteOffset + offset, SQE_SIZE);
  const dw0 = v.getUint32(0, true);
  const cdw: number[] = [];
  for (let i = 10; i <= 15; i++) cdw.push(v.getUint32(i * 4, true));
  return {
    opcode: dw0 & 0xff,
    fuse: (dw0 >>> 8) & 0x3,
    psdt: (dw0 >>> 14) & 0x3,
    cid: dw0 >>> 16,
    nsid: v.getUint32(4, true),
    mptr: v.getBigUint64(16, true),
    prp1: v.getBigUint64(24, true),
    prp2: v.getBigUint64(32, true),
    cdw,
  };
}
