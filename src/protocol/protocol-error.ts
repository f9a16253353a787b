import { type ErrnoName, VfioError } from "../errors.js";
import type { Header } from "./header.js";

/**
 * The only error a decoder ever throws: the input does not describe a valid message.
 * `errno` is what a server puts in the error reply (EINVAL for bad sizes or fields,
 * E2BIG / ENOSPC / EMSGSIZE where the spec names them).
 *
 * `header` is set when the 16-byte header itself was valid and only the body was not,
 * so a server can still address its error reply (id and command) to the bad request.
 */
export class ProtocolError extends VfioError {
  header?: Header;

  constructor(code: ErrnoName | number, message: string, options?: { header?: Header }) {
    super(code, message);
    this.name = "ProtocolError";
    if (options?.header) this.header = options.header;
  }
}
