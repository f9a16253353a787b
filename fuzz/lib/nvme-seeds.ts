import * as c from "../../src/drivers/nvme/commands.js";
import type { NvmeCommand } from "../../src/drivers/nvme/sqe.js";
import { encodeNvmeInput } from "./nvme-input.js";

const admin = (cmd: NvmeCommand, relative = true) => ({
  io: false,
  cmd,
  relativePrp1: relative,
  relativePrp2: relative,
});
const io = (cmd: NvmeCommand, relative = true) => ({ ...admin(cmd, relative), io: true });

/**
 * Seeds of the nvme-commands target: what our driver sends, built with its own command
 * builders (bring-up, logs and features, block I/O, queue creation), and a few commands
 * a driver must never send (out-of-range LBA, unknown namespace and opcodes).
 */
export function nvmeSeeds(): [string, Uint8Array][] {
  const seeds: Record<string, ReturnType<typeof admin>[]> = {
    identify: [
      admin(c.identify(c.CNS_CONTROLLER)),
      admin(c.identify(c.CNS_NAMESPACE, 1)),
      admin(c.identify(c.CNS_ACTIVE_NAMESPACES)),
    ],
    "logs-features": [
      admin(c.getLogPage(0x02, 512)),
      admin(c.getLogPage(0x01, 64)),
      admin(c.getFeatures(c.FID_NUMBER_OF_QUEUES)),
      admin(c.setFeatures(c.FID_TEMPERATURE_THRESHOLD, 350)),
    ],
    "block-io": [
      io(c.readWrite(true, 1, 0n, 8)),
      io(c.readWrite(false, 1, 0n, 8)),
      io(c.flush(1)),
      io(c.writeZeroes(1, 8n, 16)),
      io({ opcode: c.IO_DSM, nsid: 1, cdw10: 0, cdw11: 4 }),
    ],
    queues: [
      admin(c.createIoCq(2, 8, null)),
      admin({ ...c.createIoSq(2, 8, 2), prp1: 8192n }),
      admin(c.deleteIoSq(2)),
      admin(c.deleteIoCq(2)),
    ],
    "bad-commands": [
      io(c.readWrite(false, 1, 1n << 40n, 8)),
      io(c.readWrite(false, 7, 0n, 1)),
      admin({ opcode: 0xff }),
      io({ opcode: 0x7f, nsid: 1 }),
      admin(c.abort(0, 1)),
      io(c.readWrite(false, 1, 0n, 64), false),
    ],
  };
  return Object.entries(seeds).map(([name, cmds]) => [name, encodeNvmeInput(cmds)]);
}
