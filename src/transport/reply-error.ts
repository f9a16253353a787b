import { Errno, errnoName, VfioError } from "../errors.js";
import { commandName } from "../protocol/constants.js";

/**
 * The peer answered a request with an error reply. `errno` is the errno the peer put
 * in the header (EIO when it set the ERROR flag but left the field 0, which the spec
 * allows); `remoteErrno` is the raw field.
 */
export class ReplyError extends VfioError {
  readonly command: number;
  readonly messageId: number;
  readonly remoteErrno: number;

  constructor(command: number, messageId: number, remoteErrno: number) {
    const errno = remoteErrno === 0 ? Errno.EIO : remoteErrno;
    super(
      errno,
      `${commandName(command)} (message id ${messageId}) failed on the peer: ${
        remoteErrno === 0 ? "error reply without an errno" : errnoName(remoteErrno)
      }`,
    );
    this.name = "ReplyError";
    this.command = command;
    this.messageId = messageId;
    this.remoteErrno = remoteErrno;
  }
}
