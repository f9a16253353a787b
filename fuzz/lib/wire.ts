import {
  type DecodedMessage,
  decodeMessage,
  HEADER_SIZE,
  peekMessageSize,
  VFIO_USER_F_TYPE_MASK,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/index.js";
import { closeFdsQuietly } from "../../src/sys/index.js";
import type { StreamSocket } from "../../src/sys/types.js";

/**
 * Collect whole messages from a socket as they arrive (closing any fds they carry) and
 * call `onMessage` with each; `onEnd` once the peer has closed or the socket failed.
 */
/** One receive buffer for every socket: what recv puts there is copied out at once. */
const scratch = new Uint8Array(64 * 1024);

function receive(
  sock: StreamSocket,
  onMessage: (bytes: Uint8Array) => void,
  onEnd: (err?: unknown) => void,
): void {
  let pending = new Uint8Array(0);
  sock.onReadable(() => {
    try {
      for (;;) {
        const r = sock.recv(scratch, 8);
        if (r === null) return;
        closeFdsQuietly(r.fds);
        if (r.bytes === 0) {
          sock.onReadable(null);
          onEnd();
          return;
        }
        const joined = new Uint8Array(pending.length + r.bytes);
        joined.set(pending);
        joined.set(scratch.subarray(0, r.bytes), pending.length);
        pending = joined;
        while (pending.length >= HEADER_SIZE && pending.length >= peekMessageSize(pending)) {
          const size = peekMessageSize(pending);
          if (size < HEADER_SIZE) throw new Error(`server sent a ${size}-byte message`);
          onMessage(pending.slice(0, size));
          pending = pending.subarray(size);
        }
      }
    } catch (err) {
      sock.onReadable(null);
      onEnd(err);
    }
  });
}

function withTimeout<T>(
  timeoutMs: number,
  what: () => string,
  body: (resolve: (v: T) => void, reject: (e: unknown) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(what())), timeoutMs);
    body(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Read `count` whole messages, or fail: a server that stops answering is a finding. */
export function readMessages(
  sock: StreamSocket,
  count: number,
  timeoutMs: number,
): Promise<DecodedMessage[]> {
  const out: DecodedMessage[] = [];
  return withTimeout(
    timeoutMs,
    () => `server did not answer: ${out.length} of ${count} replies`,
    (resolve, reject) => {
      receive(
        sock,
        (bytes) => {
          out.push(decodeMessage(bytes, 0));
          if (out.length === count) {
            sock.onReadable(null);
            resolve(out);
          }
        },
        (err) => reject(err ?? new Error(`server closed: ${out.length} of ${count} replies`)),
      );
    },
  );
}

/**
 * Wait until the server has sent `owed` replies or closed the connection (its requests
 * to us, DMA_READ/WRITE, are left unanswered); fail if neither happens in `timeoutMs`.
 */
export function awaitReplies(sock: StreamSocket, owed: number, timeoutMs: number): Promise<void> {
  let got = 0;
  return withTimeout(
    timeoutMs,
    () => `server hung: ${got} of ${owed} replies`,
    (resolve) => {
      if (owed === 0) return resolve();
      receive(
        sock,
        (bytes) => {
          const type = new DataView(bytes.buffer).getUint32(8, true) & VFIO_USER_F_TYPE_MASK;
          if (type === VFIO_USER_F_TYPE_REPLY && ++got === owed) {
            sock.onReadable(null);
            resolve();
          }
        },
        () => resolve(),
      );
    },
  );
}
