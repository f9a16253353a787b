/** Admin commands (NVMe Base 1.4, section 5). */
import type { NvmeController } from "./controller.js";
import type { Sqe } from "./entries.js";
import {
  activeNamespaceList,
  identifyController,
  identifyNamespace,
  namespaceDescriptors,
} from "./identify.js";
import { firmwareLog, LOG_ERROR, LOG_FIRMWARE, LOG_SMART, smartLog } from "./log-pages.js";
import { CompletionQueue, SubmissionQueue } from "./queues.js";
import { MAX_QUEUE_ENTRIES } from "./regs.js";
import { type Completion, fail, OK, Status, success } from "./status.js";

export const ADMIN_DELETE_SQ = 0x00;
export const ADMIN_CREATE_SQ = 0x01;
export const ADMIN_GET_LOG_PAGE = 0x02;
export const ADMIN_DELETE_CQ = 0x04;
export const ADMIN_CREATE_CQ = 0x05;
export const ADMIN_IDENTIFY = 0x06;
export const ADMIN_ABORT = 0x08;
export const ADMIN_SET_FEATURES = 0x09;
export const ADMIN_GET_FEATURES = 0x0a;
export const ADMIN_ASYNC_EVENT = 0x0c;

const NSID_ALL = 0xffffffff;

/**
 * Runs one admin command. Undefined means the command is held (an Asynchronous Event
 * Request completes later, when an event happens).
 */
export async function adminCommand(
  ctrl: NvmeController,
  cmd: Sqe,
): Promise<Completion | undefined> {
  if (cmd.fuse !== 0) return fail(Status.INVALID_FIELD);
  switch (cmd.opcode) {
    case ADMIN_IDENTIFY:
      return identify(ctrl, cmd);
    case ADMIN_CREATE_CQ:
      return createCq(ctrl, cmd);
    case ADMIN_CREATE_SQ:
      return createSq(ctrl, cmd);
    case ADMIN_DELETE_SQ:
      return deleteSq(ctrl, cmd);
    case ADMIN_DELETE_CQ:
      return deleteCq(ctrl, cmd);
    case ADMIN_GET_LOG_PAGE:
      return getLogPage(ctrl, cmd);
    case ADMIN_SET_FEATURES:
      return ctrl.features.set(cmd.cdw10, cmd.cdw11);
    case ADMIN_GET_FEATURES:
      return ctrl.features.get(cmd.cdw10, cmd.cdw11);
    case ADMIN_ASYNC_EVENT:
      return ctrl.events.hold(cmd.cid) ? undefined : fail(Status.AER_LIMIT_EXCEEDED);
    case ADMIN_ABORT:
      // Commands run as soon as they are fetched; none is ever waiting to be aborted.
      return success(1); // Dword 0 bit 0: the command was not aborted
    default:
      return fail(Status.INVALID_OPCODE);
  }
}

async function identify(ctrl: NvmeController, cmd: Sqe): Promise<Completion> {
  const cns = cmd.cdw10 & 0xff;
  let page: Uint8Array;
  switch (cns) {
    case 0x00: {
      const ns = ctrl.namespaces.get(cmd.nsid);
      if (ns === undefined) {
        // NSID FFFFFFFFh asks what all namespaces share; an inactive one reads zeroes.
        if (cmd.nsid === 0 || (cmd.nsid > ctrl.identity.namespaces && cmd.nsid !== NSID_ALL)) {
          return fail(Status.INVALID_NAMESPACE);
        }
        page = new Uint8Array(4096);
      } else page = identifyNamespace(ns);
      break;
    }
    case 0x01:
      page = identifyController(ctrl.identity);
      break;
    case 0x02:
      if (cmd.nsid >= 0xfffffffe) return fail(Status.INVALID_NAMESPACE);
      page = activeNamespaceList([...ctrl.namespaces.keys()], cmd.nsid);
      break;
    case 0x03: {
      const ns = ctrl.namespaces.get(cmd.nsid);
      if (ns === undefined) return fail(Status.INVALID_NAMESPACE);
      page = namespaceDescriptors(ns, ctrl.identity.serial);
      break;
    }
    default:
      return fail(Status.INVALID_FIELD);
  }
  await ctrl.toHost(cmd, page);
  return OK;
}

/** The Queue Size field (0-based) as entries, or undefined when it is out of bounds. */
function queueEntries(cdw10: number): number | undefined {
  const entries = (cdw10 >>> 16) + 1;
  return entries < 2 || entries > MAX_QUEUE_ENTRIES ? undefined : entries;
}

function createCq(ctrl: NvmeController, cmd: Sqe): Completion {
  const qid = cmd.cdw10 & 0xffff;
  if (qid === 0 || qid > ctrl.features.allocatedQueues.cq || ctrl.cqs.has(qid)) {
    return fail(Status.INVALID_QUEUE_IDENTIFIER);
  }
  const entries = queueEntries(cmd.cdw10);
  if (entries === undefined) return fail(Status.INVALID_QUEUE_SIZE);
  const base = ctrlBase(cmd);
  if (base !== Status.SUCCESS) return fail(base);
  const ien = (cmd.cdw11 & 2) !== 0;
  const vector = cmd.cdw11 >>> 16;
  if (vector > ctrl.maxIoQueues) return fail(Status.INVALID_INTERRUPT_VECTOR);
  ctrl.cqs.set(qid, new CompletionQueue(ctrl, qid, cmd.prp1, entries, vector, ien));
  return OK;
}

function createSq(ctrl: NvmeController, cmd: Sqe): Completion {
  const qid = cmd.cdw10 & 0xffff;
  if (qid === 0 || qid > ctrl.features.allocatedQueues.sq || ctrl.sqs.has(qid)) {
    return fail(Status.INVALID_QUEUE_IDENTIFIER);
  }
  const cqid = cmd.cdw11 >>> 16;
  const cq = cqid === 0 ? undefined : ctrl.cqs.get(cqid);
  if (cq === undefined) return fail(Status.COMPLETION_QUEUE_INVALID);
  const entries = queueEntries(cmd.cdw10);
  if (entries === undefined) return fail(Status.INVALID_QUEUE_SIZE);
  const base = ctrlBase(cmd);
  if (base !== Status.SUCCESS) return fail(base);
  ctrl.sqs.set(qid, new SubmissionQueue(qid, cmd.prp1, entries, cq));
  cq.sqs.add(qid);
  return OK;
}

function ctrlBase(cmd: Sqe): number {
  if ((cmd.cdw11 & 1) === 0) return Status.INVALID_FIELD; // PC = 0, but CAP.CQR is set
  if ((cmd.prp1 & 0xfffn) !== 0n) return Status.INVALID_PRP_OFFSET;
  return Status.SUCCESS;
}

/** Delete I/O SQ: fetch nothing more, let its running commands complete, then remove it. */
async function deleteSq(ctrl: NvmeController, cmd: Sqe): Promise<Completion> {
  const qid = cmd.cdw10 & 0xffff;
  const sq = qid === 0 ? undefined : ctrl.sqs.get(qid);
  if (sq === undefined) return fail(Status.INVALID_QUEUE_IDENTIFIER);
  sq.deleted = true;
  await sq.idle();
  ctrl.sqs.delete(qid);
  sq.cq.sqs.delete(qid);
  return OK;
}

function deleteCq(ctrl: NvmeController, cmd: Sqe): Completion {
  const qid = cmd.cdw10 & 0xffff;
  const cq = qid === 0 ? undefined : ctrl.cqs.get(qid);
  if (cq === undefined) return fail(Status.INVALID_QUEUE_IDENTIFIER);
  if (cq.sqs.size > 0) return fail(Status.INVALID_QUEUE_DELETION);
  ctrl.cqs.delete(qid);
  return OK;
}

async function getLogPage(ctrl: NvmeController, cmd: Sqe): Promise<Completion> {
  const lid = cmd.cdw10 & 0xff;
  const dwords = ((cmd.cdw10 >>> 16) | ((cmd.cdw11 & 0xffff) << 16)) + 1;
  const offset = (BigInt(cmd.cdw13) << 32n) | BigInt(cmd.cdw12);
  const length = dwords * 4;
  if ((offset & 3n) !== 0n || length > ctrl.maxTransfer) return fail(Status.INVALID_FIELD);
  let log: Uint8Array;
  switch (lid) {
    case LOG_ERROR:
      log = ctrl.errors.page();
      break;
    case LOG_SMART:
      // No per-namespace SMART data (LPA bit 0 clear): only the controller-wide log.
      if (cmd.nsid !== 0 && cmd.nsid !== NSID_ALL) return fail(Status.INVALID_FIELD);
      log = smartLog(ctrl.health, ctrl.errors.count);
      break;
    case LOG_FIRMWARE:
      log = firmwareLog(ctrl.identity.firmware);
      break;
    default:
      return fail(Status.INVALID_LOG_PAGE);
  }
  if (offset >= BigInt(log.byteLength)) return fail(Status.INVALID_FIELD);
  const out = new Uint8Array(length);
  out.set(log.subarray(Number(offset), Number(offset) + length));
  await ctrl.toHost(cmd, out);
  return OK;
}
