import type { DeviceTasks } from "./device.js";

/**
 * The device's background tasks (DeviceContext.tasks): work started by a handler that
 * must not hold the client's command stream, counted so a reset can wait for it.
 */
export class TaskSet implements DeviceTasks {
  #pending = 0;
  #waiters: (() => void)[] = [];
  readonly #onError: (label: string, err: unknown) => void;

  constructor(onError: (label: string, err: unknown) => void) {
    this.#onError = onError;
  }

  get pending(): number {
    return this.#pending;
  }

  run(task: () => void | Promise<void>, label = "background task"): void {
    let result: void | Promise<void>;
    try {
      result = task();
    } catch (err) {
      this.#onError(label, err);
      return;
    }
    if (!(result instanceof Promise)) return;
    this.#pending++;
    result.then(
      () => this.#settled(),
      (err: unknown) => {
        this.#onError(label, err);
        this.#settled();
      },
    );
  }

  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #settled(): void {
    if (--this.#pending > 0) return;
    for (const w of this.#waiters.splice(0)) w();
  }
}
