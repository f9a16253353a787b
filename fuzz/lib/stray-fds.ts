import { closeSync, openSync, readdirSync } from "node:fs";
import { EventFd, MemFd } from "../../src/sys/index.js";

/**
 * Descriptors a fuzz input attaches to its messages: the kinds a client can pass (an
 * eventfd, a memfd of a chosen size, a regular file, a directory). Made per run and
 * closed after it (sending dups them into the peer), so a leak in the server shows in
 * /proc/self/fd.
 */
export class StrayFds {
  readonly #closers: (() => void)[] = [];

  make(kind: number, size: number): number {
    switch (kind & 3) {
      case 0: {
        const e = EventFd.create();
        this.#closers.push(() => e.close());
        return e.fd;
      }
      case 1: {
        const m = MemFd.create("fuzz", size);
        this.#closers.push(() => m.close());
        return m.fd;
      }
      default: {
        const fd = openSync(kind === 2 ? "/dev/null" : "/", "r");
        this.#closers.push(() => closeSync(fd));
        return fd;
      }
    }
  }

  closeAll(): void {
    for (const close of this.#closers.splice(0)) close();
  }
}

/** Open descriptors of this process. */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}
