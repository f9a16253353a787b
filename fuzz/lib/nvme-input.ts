import type { NvmeCommand } from "../../src/drivers/nvme/sqe.js";

/**
 * The input of the nvme-commands target: up to MAX_COMMANDS records of RECORD_BYTES,
 *
 *   ctl u8 | opcode u8 | nsid u32 | prp1 u64 | prp2 u64 | cdw10..cdw15 6 x u32
 *
 * ctl bit 0: an I/O command (queue 1), else admin; bits 1 and 2: prp1, prp2 are offsets
 * into the target's data buffer (its IOVA is added), so valid memory is easy to reach.
 * Little endian, as NVMe is. A short last record is dropped.
 */
export const RECORD_BYTES = 46;
export const MAX_COMMANDS = 8;

export interface FuzzCommand {
  readonly io: boolean;
  readonly relativePrp1: boolean;
  readonly relativePrp2: boolean;
  readonly cmd: Required<NvmeCommand>;
}

export function decodeNvmeInput(data: Uint8Array): FuzzCommand[] {
  const out: FuzzCommand[] = [];
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at + RECORD_BYTES <= data.byteLength && out.length < MAX_COMMANDS; ) {
    const ctl = v.getUint8(at);
    const cdw = (i: number) => v.getUint32(at + 22 + 4 * i, true);
    out.push({
      io: (ctl & 1) !== 0,
      relativePrp1: (ctl & 2) !== 0,
      relativePrp2: (ctl & 4) !== 0,
      cmd: {
        opcode: v.getUint8(at + 1),
        nsid: v.getUint32(at + 2, true),
        prp1: v.getBigUint64(at + 6, true),
        prp2: v.getBigUint64(at + 14, true),
        cdw10: cdw(0),
        cdw11: cdw(1),
        cdw12: cdw(2),
        cdw13: cdw(3),
        cdw14: cdw(4),
        cdw15: cdw(5),
      },
    });
    at += RECORD_BYTES;
  }
  return out;
}

/** The inverse, for seeds: commands as the driver's own builders make them. */
export function encodeNvmeInput(
  commands: readonly {
    io: boolean;
    cmd: NvmeCommand;
    relativePrp1?: boolean;
    relativePrp2?: boolean;
  }[],
): Uint8Array {
  const out = new Uint8Array(commands.length * RECORD_BYTES);
  const v = new DataView(out.buffer);
  commands.forEach((c, i) => {
    const at = i * RECORD_BYTES;
    const m = c.cmd;
    v.setUint8(at, (c.io ? 1 : 0) | (c.relativePrp1 ? 2 : 0) | (c.relativePrp2 ? 4 : 0));
    v.setUint8(at + 1, m.opcode);
    v.setUint32(at + 2, (m.nsid ?? 0) >>> 0, true);
    v.setBigUint64(at + 6, BigInt.asUintN(64, m.prp1 ?? 0n), true);
    v.setBigUint64(at + 14, BigInt.asUintN(64, m.prp2 ?? 0n), true);
    const cdws = [m.cdw10, m.cdw11, m.cdw12, m.cdw13, m.cdw14, m.cdw15];
    cdws.forEach((d, j) => {
      v.setUint32(at + 22 + 4 * j, (d ?? 0) >>> 0, true);
    });
  });
  return out;
}
