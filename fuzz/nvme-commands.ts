/**
 * Fuzz target: the NVMe controller model against whatever commands a guest may put in
 * its queues. One model (1 MiB memory namespace) is served in process over the loopback
 * transport and brought up by our NVMe driver (admin queue, one I/O queue pair of 16,
 * polled completions); each input is up to eight commands (fuzz/lib/nvme-input.ts),
 * submitted at once on the admin or the I/O queue, with any opcode, namespace, PRPs and
 * command dwords. The driver only writes them into the rings and rings the doorbells.
 *
 * The input fails (throws) when:
 * - a command gets no completion within a second while the controller has not failed
 *   (CSTS.CFS), or the controller failed though no command of the input created a queue
 *   (bad data pointers must end in a status, Data Transfer Error or another, never in a
 *   failed controller; bad queue memory may fail it, as the spec allows);
 * - the server logs an error (an exception in its own code, not a refused request);
 * - afterwards, Identify Controller does not succeed.
 * An exception that escapes is reported by Jazzer.js itself.
 *
 * What is kept out, and why: Asynchronous Event Requests (they complete only when an
 * event comes); Create and Delete I/O queue commands naming queue 1 (the driver's own)
 * go to queue 2 instead; data pointers not marked as buffer offsets get bit 47 set, so
 * they are never memory the driver's rings live in: a command that overwrote the
 * driver's own rings would hang the driver, not the model. After an input that changed
 * controller state (queues, features, an abort) or left a command behind, the
 * controller is brought up afresh, so each input starts from the same state.
 */
import { type DeviceHandle, type DmaBuffer, openLoopback } from "../src/client/index.js";
import { instantiateBuiltinDevice } from "../src/devices/index.js";
import * as cmds from "../src/drivers/nvme/commands.js";
import { NvmeController } from "../src/drivers/nvme/controller.js";
import type { QueuePair } from "../src/drivers/nvme/queue-pair.js";
import { NvmeError } from "../src/drivers/nvme/status.js";
import { TransferArea } from "../src/drivers/nvme/transfer-area.js";
import type { Logger } from "../src/server/index.js";
import { decodeNvmeInput } from "./lib/nvme-input.js";

const ADMIN_ASYNC_EVENT = 0x0c;
/** Admin commands that change no controller state: an input of only these keeps the rig. */
const READ_ONLY_ADMIN = new Set([
  cmds.ADMIN_GET_LOG_PAGE,
  cmds.ADMIN_IDENTIFY,
  cmds.ADMIN_GET_FEATURES,
]);
const QUEUE_ADMIN = new Set([
  cmds.ADMIN_DELETE_SQ,
  cmds.ADMIN_CREATE_SQ,
  cmds.ADMIN_DELETE_CQ,
  cmds.ADMIN_CREATE_CQ,
]);
const COMMAND_TIMEOUT_MS = 1000;
const DATA_BYTES = 64 * 1024;
const OUTSIDE_RINGS = 1n << 47n;

const serverErrors: string[] = [];
const logger: Logger = {
  info: () => {},
  warn: () => {},
  debug: () => {},
  error: (m) => serverErrors.push(m),
};

interface Rig {
  ctrl: NvmeController;
  io: QueuePair;
  data: DmaBuffer;
  area: TransferArea;
}

let handle: Promise<DeviceHandle> | undefined;
let rig: Rig | undefined;

async function bringUp(): Promise<Rig> {
  handle ??= openLoopback(instantiateBuiltinDevice("nvme", { size: 1 << 20 }).device, {
    server: { logger, logRateLimit: false },
  });
  const ctrl = await NvmeController.open(await handle, {
    irqMode: "poll",
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  const io = await ctrl.createIoQueuePair(1, 16);
  const data = await ctrl.container.allocateBuffer(DATA_BYTES, { name: "fuzz-data" });
  const area = await TransferArea.allocate(ctrl.container, 1, 4096);
  return { ctrl, io, data, area };
}

async function tearDown(r: Rig): Promise<void> {
  await r.ctrl.close();
}

function pointer(value: bigint, relative: boolean, data: DmaBuffer): bigint {
  return relative ? data.iova + (value % BigInt(DATA_BYTES)) : value | OUTSIDE_RINGS;
}

export async function fuzz(input: Buffer): Promise<void> {
  const commands = decodeNvmeInput(input);
  if (commands.length === 0) return;
  rig ??= await bringUp();
  const r = rig;
  let fresh = false;
  const createsQueues = commands.some(
    (c) =>
      !c.io && (c.cmd.opcode === cmds.ADMIN_CREATE_SQ || c.cmd.opcode === cmds.ADMIN_CREATE_CQ),
  );
  const hung: string[] = [];
  await Promise.all(
    commands.map(async (c, i) => {
      const cmd = { ...c.cmd };
      if (!c.io) {
        if (cmd.opcode === ADMIN_ASYNC_EVENT) return;
        if (QUEUE_ADMIN.has(cmd.opcode) && (cmd.cdw10 & 0xffff) === 1) {
          cmd.cdw10 = ((cmd.cdw10 & ~0xffff) | 2) >>> 0;
        }
        if (!READ_ONLY_ADMIN.has(cmd.opcode)) fresh = true;
      }
      cmd.prp1 = pointer(cmd.prp1, c.relativePrp1, r.data);
      cmd.prp2 = pointer(cmd.prp2, c.relativePrp2, r.data);
      const queue = c.io ? r.io : r.ctrl.admin;
      try {
        await queue.submit(cmd, `command ${i}`, COMMAND_TIMEOUT_MS);
      } catch (err) {
        if (err instanceof NvmeError) return; // an error status: what bad commands get
        if ((err as { code?: string }).code !== "ETIMEDOUT") throw err;
        hung.push(
          `${c.io ? "I/O" : "admin"} opcode 0x${cmd.opcode.toString(16)} (command ${i}): ${(err as Error).message}`,
        );
      }
    }),
  );
  if (hung.length > 0) {
    fresh = true;
    const failed = await r.ctrl.fatal();
    if (!failed) throw new Error(`no completion, controller not failed: ${hung.join("; ")}`);
    if (!createsQueues) {
      throw new Error(
        `the controller failed (CSTS.CFS) without a queue created: ${hung.join("; ")}`,
      );
    }
  } else if (await r.ctrl.fatal()) {
    fresh = true;
    if (!createsQueues) throw new Error("the controller failed (CSTS.CFS) without a queue created");
  }
  if (serverErrors.length > 0) {
    throw new Error(`the server logged errors: ${serverErrors.splice(0).join(" | ")}`);
  }
  if (r.io.outstanding > 0 || r.ctrl.admin.outstanding > 0) fresh = true;
  if (fresh) {
    rig = undefined;
    await tearDown(r);
    rig = await bringUp();
  }
  // The controller still answers, and is still itself.
  const id = await rig.ctrl.identifyController(rig.area);
  identity ??= `${id.vendorId}/${id.serial}/${id.model}/${id.namespaces}`;
  const now = `${id.vendorId}/${id.serial}/${id.model}/${id.namespaces}`;
  if (now !== identity) throw new Error(`Identify Controller says ${now}, was ${identity}`);
}

let identity: string | undefined;
