import { type DecodedMessage, decodeMessage, peekMessageSize } from "../../src/protocol/index.js";
import { closeFdsQuietly } from "../../src/sys/index.js";
import type { StreamSocket } from "../../src/sys/types.js";

/**
 * Read `count` whole messages from a socket (closing any fds they carry), or fail after
 * `timeoutMs`: a server that stops answering is a finding, not a hang.
 */
export function readMessages(
  sock: StreamSocket,
  count: number,
  timeoutMs: number,
): Promise<DecodedMessage[]> {
  return new Promise((resolve, reject) => {
    const buf = new Uint8Array(64 * 1024);
    let pending = new Uint8Array(0);
    const out: DecodedMessage[] = [];
    const timer = setTimeout(() => {
      sock.onReadable(null);
      reject(new Error(`server did not answer: ${out.length} of ${count} replies`));
    }, timeoutMs);
    sock.onReadable(() => {
      try {
        for (;;) {
          const r = sock.recv(buf, 8);
          if (r === null) break;
          closeFdsQuietly(r.fds);
          if (r.bytes === 0) throw new Error(`server closed: ${out.length} of ${count} replies`);
          const joined = new Uint8Array(pending.length + r.bytes);
          joined.set(pending);
          joined.set(buf.subarray(0, r.bytes), pending.length);
          pending = joined;
          while (pending.length >= 16 && pending.length >= peekMessageSize(pending)) {
            const size = peekMessageSize(pending);
            out.push(decodeMessage(pending.slice(0, size), 0));
            pending = pending.subarray(size);
          }
        }
        if (out.length >= count) {
          clearTimeout(timer);
          sock.onReadable(null);
          resolve(out);
        }
      } catch (err) {
        clearTimeout(timer);
        sock.onReadable(null);
        reject(err);
      }
    });
  });
}
