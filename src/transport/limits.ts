import { DEFAULT_MAX_DATA_XFER_SIZE, HEADER_SIZE } from "../protocol/constants.js";
import { MAX_FDS_PER_MESSAGE } from "../sys/socket.js";

/**
 * Default largest message we accept: the default max_data_xfer_size plus room for the
 * fixed part of any read/write/migration message. Raise it after negotiation when
 * larger transfers were agreed (`Connection.setLimits`).
 */
export const DEFAULT_MAX_MESSAGE_SIZE = DEFAULT_MAX_DATA_XFER_SIZE + 4096;

/** The kernel's limit on descriptors in one sendmsg (SCM_MAX_FD): any sane peer is below. */
export { MAX_FDS_PER_MESSAGE };

/** Default number of fds accepted with one incoming message. */
export const DEFAULT_MAX_FDS = MAX_FDS_PER_MESSAGE;

/** The vfio-user size field is 32 bits. */
export const MAX_WIRE_SIZE = 0xffffffff;

/** What the receiving side accepts: the largest message and the most fds per message. */
export interface Limits {
  /** Largest incoming message (header included) before the connection is closed. */
  maxMessageSize: number;
  /** Most fds accepted with one incoming message (0..253). */
  maxFds: number;
}

/** Throws EINVAL if a limit is out of range. */
export function checkLimits(limits: Partial<Limits>): void {
  const { maxMessageSize, maxFds } = limits;
  if (
    maxMessageSize !== undefined &&
    (!Number.isInteger(maxMessageSize) ||
      maxMessageSize < HEADER_SIZE ||
      maxMessageSize > MAX_WIRE_SIZE)
  ) {
    throw new RangeError(
      `maxMessageSize must be an integer in [16, 2^32-1], got ${maxMessageSize}`,
    );
  }
  if (
    maxFds !== undefined &&
    (!Number.isInteger(maxFds) || maxFds < 0 || maxFds > MAX_FDS_PER_MESSAGE)
  ) {
    throw new RangeError(`maxFds must be an integer in [0, 253], got ${maxFds}`);
  }
}
