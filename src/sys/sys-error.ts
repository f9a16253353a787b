import { Errno, type ErrnoName, VfioError } from "../errors.js";

/** A failed system call: `code` is the errno name, `errno` the number, `syscall` the call. */
export class SysError extends VfioError {
  override readonly code: string;
  readonly syscall: string;

  constructor(
    errno: number,
    code: string,
    syscall: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(errno, message, options);
    this.name = "SysError";
    this.code = code;
    this.syscall = syscall;
  }

  /** The same error with a message that says what we were doing (e.g. naming the path). */
  withMessage(message: string): SysError {
    return new SysError(this.errno, this.code, this.syscall, message, { cause: this });
  }
}

/** Builds a SysError for an errno we detect ourselves (not reported by the addon). */
export function sysError(code: ErrnoName, syscall: string, message: string): SysError {
  return new SysError(Errno[code], code, syscall, message);
}

/** True when `err` is a SysError (or any error) whose code is `code`. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}
