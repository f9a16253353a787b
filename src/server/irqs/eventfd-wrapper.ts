import { readlinkSync } from "node:fs";
import { VfioError } from "../../errors.js";
import { EventFd } from "../../sys/index.js";
import type { EventFdWrapper } from "./irq-controller.js";
import type { IrqNotifier, IrqTrigger } from "./notifier.js";

/**
 * Throws EINVAL unless every fd is an eventfd. SET_IRQS checks this before anything
 * changes: signalling a socket or a memfd by mistake would corrupt the client's stream
 * or memory rather than raise an interrupt.
 */
export function checkEventFds(fds: readonly number[]): void {
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      throw new VfioError("EBADF", `descriptor ${fd} is not open`);
    }
    if (target !== "anon_inode:[eventfd]") {
      throw new VfioError("EINVAL", `SET_IRQS: descriptor is ${target}, not an eventfd`);
    }
  }
}

/** Real eventfds: `onSignalError` hears about writes that failed (never thrown). */
export function eventFdWrapper(onSignalError: (err: unknown) => void): EventFdWrapper {
  return {
    notifier(fd: number): IrqNotifier {
      const efd = new EventFd(fd);
      return {
        signal() {
          try {
            efd.signal(1n);
          } catch (err) {
            onSignalError(err);
          }
        },
        close() {
          efd.close();
        },
      };
    },
    trigger(fd: number): IrqTrigger {
      const efd = new EventFd(fd);
      return {
        listen(onSignal) {
          efd.unref();
          efd.onReadable(() => {
            // Level-triggered: consume the count, then act once for all signals so far.
            if (efd.read() !== null) onSignal();
          });
        },
        close() {
          efd.close();
        },
      };
    },
  };
}
