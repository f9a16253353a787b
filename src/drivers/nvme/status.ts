/**
 * NVMe completion status (the Status Field of a completion queue entry) and the error
 * a failed command becomes. Names are the specification's (base spec 2.0, figures 100
 * to 108; NVM command set spec for the 0x80+ codes), so a log line says what the
 * controller said.
 */
import { VfioError } from "../../errors.js";

/** Status Code Type. */
export const SCT_GENERIC = 0;
export const SCT_COMMAND_SPECIFIC = 1;
export const SCT_MEDIA = 2;
export const SCT_PATH = 3;
export const SCT_VENDOR = 7;

/** Generic command status codes this driver looks for by name. */
export const SC_SUCCESS = 0x00;
export const SC_INVALID_OPCODE = 0x01;
export const SC_INVALID_FIELD = 0x02;
export const SC_ABORT_REQUESTED = 0x07;
export const SC_ABORTED_SQ_DELETION = 0x08;
export const SC_INVALID_NAMESPACE = 0x0b;
export const SC_LBA_OUT_OF_RANGE = 0x80;
/** Command specific status codes. */
export const SC_INVALID_QUEUE_ID = 0x01;
export const SC_INVALID_QUEUE_SIZE = 0x02;
export const SC_INVALID_INTERRUPT_VECTOR = 0x08;
export const SC_INVALID_LOG_PAGE = 0x09;
export const SC_INVALID_QUEUE_DELETION = 0x0c;

const GENERIC: Record<number, string> = {
  0: "Successful Completion",
  1: "Invalid Command Opcode",
  2: "Invalid Field in Command",
  3: "Command ID Conflict",
  4: "Data Transfer Error",
  5: "Commands Aborted due to Power Loss Notification",
  6: "Internal Error",
  7: "Command Abort Requested",
  8: "Command Aborted due to SQ Deletion",
  9: "Command Aborted due to Failed Fused Command",
  10: "Command Aborted due to Missing Fused Command",
  11: "Invalid Namespace or Format",
  12: "Command Sequence Error",
  13: "Invalid SGL Segment Descriptor",
  14: "Invalid Number of SGL Descriptors",
  15: "Data SGL Length Invalid",
  16: "Metadata SGL Length Invalid",
  17: "SGL Descriptor Type Invalid",
  18: "Invalid Use of Controller Memory Buffer",
  19: "PRP Offset Invalid",
  20: "Atomic Write Unit Exceeded",
  21: "Operation Denied",
  22: "SGL Offset Invalid",
  24: "Host Identifier Inconsistent Format",
  25: "Keep Alive Timer Expired",
  26: "Keep Alive Timeout Invalid",
  27: "Command Aborted due to Preempt and Abort",
  28: "Sanitize Failed",
  29: "Sanitize In Progress",
  30: "SGL Data Block Granularity Invalid",
  31: "Command Not Supported for Queue in CMB",
  32: "Namespace is Write Protected",
  33: "Command Interrupted",
  34: "Transient Transport Error",
  128: "LBA Out of Range",
  129: "Capacity Exceeded",
  130: "Namespace Not Ready",
  131: "Reservation Conflict",
  132: "Format In Progress",
};

const COMMAND_SPECIFIC: Record<number, string> = {
  0: "Completion Queue Invalid",
  1: "Invalid Queue Identifier",
  2: "Invalid Queue Size",
  3: "Abort Command Limit Exceeded",
  5: "Asynchronous Event Request Limit Exceeded",
  6: "Invalid Firmware Slot",
  7: "Invalid Firmware Image",
  8: "Invalid Interrupt Vector",
  9: "Invalid Log Page",
  10: "Invalid Format",
  11: "Firmware Activation Requires Conventional Reset",
  12: "Invalid Queue Deletion",
  13: "Feature Identifier Not Saveable",
  14: "Feature Not Changeable",
  15: "Feature Not Namespace Specific",
  16: "Firmware Activation Requires NVM Subsystem Reset",
  17: "Firmware Activation Requires Controller Level Reset",
  18: "Firmware Activation Requires Maximum Time Violation",
  19: "Firmware Activation Prohibited",
  20: "Overlapping Range",
  21: "Namespace Insufficient Capacity",
  22: "Namespace Identifier Unavailable",
  24: "Namespace Already Attached",
  25: "Namespace Is Private",
  26: "Namespace Not Attached",
  27: "Thin Provisioning Not Supported",
  28: "Controller List Invalid",
  29: "Device Self-test In Progress",
  30: "Boot Partition Write Prohibited",
  31: "Invalid Controller Identifier",
  32: "Invalid Secondary Controller State",
  33: "Invalid Number of Controller Resources",
  34: "Invalid Resource Identifier",
  35: "Sanitize Prohibited While Persistent Memory Region is Enabled",
  36: "ANA Group Identifier Invalid",
  37: "ANA Attach Failed",
  128: "Conflicting Attributes",
  129: "Invalid Protection Information",
  130: "Attempted Write to Read Only Range",
};

const MEDIA: Record<number, string> = {
  128: "Write Fault",
  129: "Unrecovered Read Error",
  130: "End-to-end Guard Check Error",
  131: "End-to-end Application Tag Check Error",
  132: "End-to-end Reference Tag Check Error",
  133: "Compare Failure",
  134: "Access Denied",
  135: "Deallocated or Unwritten Logical Block",
};

const PATH: Record<number, string> = {
  0: "Internal Path Error",
  1: "Asymmetric Access Persistent Loss",
  2: "Asymmetric Access Inaccessible",
  3: "Asymmetric Access Transition",
  96: "Controller Pathing Error",
  112: "Host Pathing Error",
  113: "Command Aborted By Host",
};

const SCT_NAMES = ["Generic", "Command Specific", "Media and Data Integrity", "Path Related"];

/** The Status Field of a completion (CQE dword 3 bits 31:17), decoded. */
export interface NvmeStatus {
  readonly sct: number;
  readonly sc: number;
  /** Command Retry Delay index. */
  readonly crd: number;
  /** More information in the Error Information log page. */
  readonly more: boolean;
  /** Do Not Retry: the same command would fail again. */
  readonly dnr: boolean;
}

/** Decodes the 15-bit status field (CQE dword 3 >> 17). */
export function decodeStatus(field: number): NvmeStatus {
  return {
    sc: field & 0xff,
    sct: (field >>> 8) & 0x7,
    crd: (field >>> 11) & 0x3,
    more: (field & (1 << 13)) !== 0,
    dnr: (field & (1 << 14)) !== 0,
  };
}

/** The specification's name of a status, or a description with its numbers. */
export function statusName(sct: number, sc: number): string {
  const table =
    sct === SCT_GENERIC
      ? GENERIC
      : sct === SCT_COMMAND_SPECIFIC
        ? COMMAND_SPECIFIC
        : sct === SCT_MEDIA
          ? MEDIA
          : sct === SCT_PATH
            ? PATH
            : undefined;
  const name = table?.[sc];
  if (name !== undefined) return name;
  if (sct === SCT_VENDOR) return `Vendor Specific status 0x${hex2(sc)}`;
  const type = SCT_NAMES[sct] ?? `Reserved type ${sct}`;
  return `${type} status 0x${hex2(sc)}`;
}

/**
 * A command the controller completed with an error status. `code` is EIO, as for
 * any failed device access; `sct`/`sc` say exactly what the controller said.
 */
export class NvmeError extends VfioError {
  readonly sct: number;
  readonly sc: number;
  readonly dnr: boolean;
  readonly more: boolean;
  readonly statusName: string;
  /** The opcode of the failed command and whether it was an admin command. */
  readonly opcode: number;
  readonly admin: boolean;

  constructor(status: NvmeStatus, opcode: number, admin: boolean, what: string) {
    const name = statusName(status.sct, status.sc);
    super(
      "EIO",
      `${what} failed: ${name} (SCT ${status.sct}, SC 0x${hex2(status.sc)}${status.dnr ? ", do not retry" : ""})`,
    );
    this.name = "NvmeError";
    this.sct = status.sct;
    this.sc = status.sc;
    this.dnr = status.dnr;
    this.more = status.more;
    this.statusName = name;
    this.opcode = opcode;
    this.admin = admin;
  }

  /** Whether this is the status (sct, sc). */
  is(sct: number, sc: number): boolean {
    return this.sct === sct && this.sc === sc;
  }
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, "0");
}
