/**
 * Waits for SIGINT or SIGTERM so long-running commands (serve, trace) can shut
 * down cleanly; a second signal while shutting down exits at once.
 */
import { EXIT_INTERRUPTED } from "./cli-error.js";

export function untilSignal(): { promise: Promise<NodeJS.Signals>; dispose(): void } {
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    let seen = false;
    onSignal = (sig) => {
      if (seen) process.exit(EXIT_INTERRUPTED);
      seen = true;
      resolve(sig);
    };
  });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    promise,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
