/**
 * Completion status codes (NVMe Base 1.4, section 4.6.1.2): the 15-bit Status Field of
 * a completion queue entry, as SC | SCT << 8 | DNR << 14. Every status this model
 * returns for a bad command has Do Not Retry set: retrying cannot make it succeed.
 */

export const SCT_GENERIC = 0;
export const SCT_COMMAND_SPECIFIC = 1;
export const SCT_MEDIA = 2;

const DNR = 1 << 14;

export function statusField(sct: number, sc: number, dnr = true): number {
  return (sc & 0xff) | ((sct & 7) << 8) | (dnr ? DNR : 0);
}

const g = (sc: number) => statusField(SCT_GENERIC, sc);
const c = (sc: number) => statusField(SCT_COMMAND_SPECIFIC, sc);
const m = (sc: number) => statusField(SCT_MEDIA, sc);

export const Status = {
  SUCCESS: 0,
  INVALID_OPCODE: g(0x01),
  INVALID_FIELD: g(0x02),
  DATA_TRANSFER_ERROR: g(0x04),
  INTERNAL_ERROR: g(0x06),
  ABORTED_BY_REQUEST: statusField(SCT_GENERIC, 0x07, false),
  ABORTED_SQ_DELETION: statusField(SCT_GENERIC, 0x08, false),
  INVALID_NAMESPACE: g(0x0b),
  COMMAND_SEQUENCE_ERROR: g(0x0c),
  INVALID_PRP_OFFSET: g(0x13),
  LBA_OUT_OF_RANGE: g(0x80),
  COMPLETION_QUEUE_INVALID: c(0x00),
  INVALID_QUEUE_IDENTIFIER: c(0x01),
  INVALID_QUEUE_SIZE: c(0x02),
  AER_LIMIT_EXCEEDED: c(0x05),
  INVALID_INTERRUPT_VECTOR: c(0x08),
  INVALID_LOG_PAGE: c(0x09),
  INVALID_QUEUE_DELETION: c(0x0c),
  FEATURE_NOT_SAVEABLE: c(0x0d),
  WRITE_FAULT: m(0x80),
  UNRECOVERED_READ_ERROR: m(0x81),
} as const;

/** What a command handler answers: a status field and Dword 0 of the completion. */
export interface Completion {
  readonly status: number;
  readonly result: number;
}

export const OK: Completion = Object.freeze({ status: Status.SUCCESS, result: 0 });

export function fail(status: number): Completion {
  return { status, result: 0 };
}

export function success(result: number): Completion {
  return { status: Status.SUCCESS, result: result >>> 0 };
}

/**
 * Thrown inside a command handler to end it with `status` (a bad PRP, a DMA fault on
 * data): the dispatcher turns it into the completion.
 */
export class CommandStatus extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "CommandStatus";
  }
}
