import type { Connection } from "../transport/index.js";

/**
 * Closes `conn` once what we queued for it (typically one error reply) has reached the
 * kernel, so the peer reads the reason before it sees EOF. Gives up waiting after
 * `maxWaitMs`: a peer that does not read must not keep the connection.
 */
export function closeWhenFlushed(conn: Connection, maxWaitMs = 1000): void {
  const deadline = Date.now() + maxWaitMs;
  const step = (): void => {
    if (conn.closed) return;
    if (conn.queuedBytes === 0 || Date.now() >= deadline) conn.close();
    else setTimeout(step, 5).unref();
  };
  // Start on the next turn so a reply queued right after this call goes out first.
  setImmediate(step);
}
