/** NVM command set I/O commands (NVMe NVM Command Set, section 3): one namespace of blocks. */
import type { NvmeController } from "./controller.js";
import type { Sqe } from "./entries.js";
import type { Namespace } from "./namespace.js";
import { type Completion, fail, OK, Status } from "./status.js";

export const IO_FLUSH = 0x00;
export const IO_WRITE = 0x01;
export const IO_READ = 0x02;
export const IO_WRITE_ZEROES = 0x08;
export const IO_DATASET_MANAGEMENT = 0x09;

const NSID_ALL = 0xffffffff;
/** Dataset Management range: context attributes, length in blocks, starting LBA. */
const DSM_RANGE = 16;
const DSM_DEALLOCATE = 1 << 2;

export async function ioCommand(ctrl: NvmeController, cmd: Sqe): Promise<Completion> {
  if (cmd.fuse !== 0) return fail(Status.INVALID_FIELD);
  const known = [IO_FLUSH, IO_WRITE, IO_READ, IO_WRITE_ZEROES, IO_DATASET_MANAGEMENT];
  if (!known.includes(cmd.opcode)) return fail(Status.INVALID_OPCODE);
  if (cmd.opcode === IO_FLUSH && cmd.nsid === NSID_ALL) {
    for (const ns of ctrl.namespaces.values()) await ns.backing.flush();
    return OK;
  }
  const ns = ctrl.namespaces.get(cmd.nsid);
  if (ns === undefined) return fail(Status.INVALID_NAMESPACE);
  switch (cmd.opcode) {
    case IO_FLUSH:
      await ns.backing.flush();
      return OK;
    case IO_READ:
    case IO_WRITE:
      return readWrite(ctrl, ns, cmd);
    case IO_WRITE_ZEROES:
      return writeZeroes(ns, cmd);
    default:
      return datasetManagement(ctrl, ns, cmd);
  }
}

function lbaOf(cmd: Sqe): bigint {
  return (BigInt(cmd.cdw11) << 32n) | BigInt(cmd.cdw10);
}

async function readWrite(ctrl: NvmeController, ns: Namespace, cmd: Sqe): Promise<Completion> {
  const slba = lbaOf(cmd);
  const blocks = (cmd.cdw12 & 0xffff) + 1;
  if (!ns.inRange(slba, blocks)) return fail(Status.LBA_OUT_OF_RANGE);
  const bytes = blocks * ns.blockSize;
  if (bytes > ctrl.maxTransfer) return fail(Status.INVALID_FIELD);
  const offset = Number(slba) * ns.blockSize;
  const h = ctrl.health;
  if (cmd.opcode === IO_READ) {
    const segs = await ctrl.dataSegments(cmd, bytes);
    let data: Uint8Array;
    try {
      data = await ns.backing.read(offset, bytes);
    } catch (err) {
      h.mediaErrors++;
      ctrl.log(`read of ${bytes} bytes at ${offset} failed: ${(err as Error).message}`);
      return fail(Status.UNRECOVERED_READ_ERROR);
    }
    await ctrl.dataTransfer(() => ctrl.dma.writeSegments(segs, data));
    h.readCommands++;
    h.bytesRead += bytes;
    return OK;
  }
  const data = await ctrl.fromHost(cmd, bytes);
  try {
    await ns.backing.write(offset, data);
  } catch (err) {
    h.mediaErrors++;
    ctrl.log(`write of ${bytes} bytes at ${offset} failed: ${(err as Error).message}`);
    return fail(Status.WRITE_FAULT);
  }
  h.writeCommands++;
  h.bytesWritten += bytes;
  return OK;
}

async function writeZeroes(ns: Namespace, cmd: Sqe): Promise<Completion> {
  const slba = lbaOf(cmd);
  const blocks = (cmd.cdw12 & 0xffff) + 1;
  if (!ns.inRange(slba, blocks)) return fail(Status.LBA_OUT_OF_RANGE);
  await ns.backing.zero(Number(slba) * ns.blockSize, blocks * ns.blockSize);
  return OK;
}

/** Dataset Management: deallocate reads back zeroes (DLFEAT); other attributes are hints. */
async function datasetManagement(
  ctrl: NvmeController,
  ns: Namespace,
  cmd: Sqe,
): Promise<Completion> {
  const count = (cmd.cdw10 & 0xff) + 1;
  const ranges = await ctrl.fromHost(cmd, count * DSM_RANGE);
  const v = new DataView(ranges.buffer, ranges.byteOffset, ranges.byteLength);
  const list: { lba: bigint; blocks: number }[] = [];
  for (let i = 0; i < count; i++) {
    const blocks = v.getUint32(i * DSM_RANGE + 4, true);
    const lba = v.getBigUint64(i * DSM_RANGE + 8, true);
    if (!ns.inRange(lba, blocks)) return fail(Status.LBA_OUT_OF_RANGE);
    list.push({ lba, blocks });
  }
  if ((cmd.cdw11 & DSM_DEALLOCATE) !== 0) {
    for (const r of list) {
      if (r.blocks > 0)
        await ns.backing.zero(Number(r.lba) * ns.blockSize, r.blocks * ns.blockSize);
    }
  }
  return OK;
}
