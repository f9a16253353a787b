import { type ErrnoName, VfioError } from "../errors.js";

/**
 * The only error a decoder ever throws: the input does not describe a valid message.
 * `errno` is what a server puts in the error reply (EINVAL for bad sizes or fields,
 * E2BIG / ENOSPC / EMSGSIZE where the spec names them).
 */
export class ProtocolError extends VfioError {
  constructor(code: ErrnoName | number, message: string) {
    super(code, message);
    this.name = "ProtocolError";
  }
}
