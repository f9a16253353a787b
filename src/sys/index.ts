/**
 * The system layer: typed wrappers over the native addon.
 *
 * @module
 */

export { EventFd, type EventFdOptions } from "./eventfd.js";
export { closeFd, closeFdQuietly, closeFdsQuietly, dupFd, fdSeals, fdSize } from "./fd.js";
export { copyGuarded } from "./guarded-copy.js";
export { adoptInheritedSocket, type InheritedSocket } from "./inherited-fd.js";
export { addressOf, ioctl, openDevice, pread, pwrite } from "./ioctl.js";
export { type MemlockLimit, memlockLimit } from "./limits.js";
export { listenUnix, UnixListener } from "./listener.js";
export { F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, MemFd } from "./memfd.js";
export { mmap, munmap, PROT_READ, PROT_WRITE } from "./mmap.js";
export { FdPoller, type ReadinessCallback } from "./poll.js";
export {
  type ConnectRetryOptions,
  connectUnix,
  connectUnixRetry,
  MAX_FDS_PER_MESSAGE,
  type PeerCredentials,
  socketPair,
  UNIX_PATH_MAX,
  UnixSocket,
} from "./socket.js";
export { isErrno, SysError, sysError } from "./sys-error.js";
export type { ListenOptions, Received, StreamListener, StreamSocket } from "./types.js";
