import { closeSync } from "node:fs";
import { debuglog } from "node:util";

const debug = debuglog("vfio-transport");

/**
 * Close descriptors the transport owns and nobody will take. Errors are only traced:
 * the fd is gone either way (Linux releases it even when close reports an error),
 * and a failure here must not mask the error that led to the cleanup.
 */
export function closeFds(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch (err) {
      debug("closing fd %d failed: %s", fd, (err as Error).message);
    }
  }
}
