import type { EventFdWrapper } from "../../src/server/irqs/irq-controller.js";
import type { IrqNotifier, IrqTrigger } from "../../src/server/irqs/notifier.js";

/** A notifier that counts signals: what a test sees instead of an eventfd. */
export class FakeNotifier implements IrqNotifier {
  signals = 0;
  closed = false;
  constructor(readonly fd = -1) {}
  signal(): void {
    if (this.closed) throw new Error(`signal on closed notifier ${this.fd}`);
    this.signals++;
  }
  close(): void {
    this.closed = true;
  }
}

export class FakeTrigger implements IrqTrigger {
  closed = false;
  #cb: (() => void) | null = null;
  constructor(readonly fd: number) {}
  listen(onSignal: () => void): void {
    this.#cb = onSignal;
  }
  fire(): void {
    if (!this.closed) this.#cb?.();
  }
  close(): void {
    this.closed = true;
  }
}

/** Wraps "fds" (any numbers) in fakes and remembers them by fd. */
export class FakeEventFds implements EventFdWrapper {
  readonly notifiers = new Map<number, FakeNotifier>();
  readonly triggers = new Map<number, FakeTrigger>();
  notifier(fd: number): IrqNotifier {
    const n = new FakeNotifier(fd);
    this.notifiers.set(fd, n);
    return n;
  }
  trigger(fd: number): IrqTrigger {
    const t = new FakeTrigger(fd);
    this.triggers.set(fd, t);
    return t;
  }
  n(fd: number): FakeNotifier {
    const n = this.notifiers.get(fd);
    if (!n) throw new Error(`no notifier for fd ${fd}`);
    return n;
  }
  /** Notifiers handed out and not closed. */
  open(): number {
    let k = 0;
    for (const n of this.notifiers.values()) if (!n.closed) k++;
    for (const t of this.triggers.values()) if (!t.closed) k++;
    return k;
  }
}
