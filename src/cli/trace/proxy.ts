/**
 * `vfio-ts trace`: a transparent vfio-user proxy. It listens on a socket path and,
 * for each client that connects, connects to the real server and forwards every
 * message both ways unchanged (with its fds), reporting each one as it passes.
 */
import { performance } from "node:perf_hooks";
import { VfioError } from "../../errors.js";
import { connectUnix, listenUnix, type UnixListener } from "../../sys/index.js";
import type { StreamSocket } from "../../sys/types.js";
import type { SessionEvent, TraceRecord } from "./record.js";
import { ProxySession } from "./session.js";

export interface TraceProxyOptions {
  /** Where clients connect (a socket file created by the proxy). */
  readonly listen: string;
  /** The real server's socket. */
  readonly connect: string;
  /** Every forwarded message. Called synchronously; must not throw. */
  readonly onRecord: (rec: TraceRecord) => void;
  /** Connections opened and closed, errors. */
  readonly onEvent?: (ev: SessionEvent) => void;
  /** Largest message forwarded (header included); default 64 MiB. */
  readonly maxMessageSize?: number;
  /**
   * Flow control: once this many bytes wait to be sent to one side, the proxy stops
   * reading from the other until they are out; default 4 MiB. A slow reader thus
   * slows its peer instead of growing the proxy's memory.
   */
  readonly highWaterBytes?: number;
  /** Trace the server-to-client twin socket (see ProxySession); default true. */
  readonly interceptTwin?: boolean;
  /** Socket file mode; default 0o600. */
  readonly socketMode?: number;
}

const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
const DEFAULT_HIGH_WATER = 4 * 1024 * 1024;

export class TraceProxy {
  readonly listenPath: string;
  readonly connectPath: string;
  readonly #opts: TraceProxyOptions;
  readonly #start = performance.now();
  readonly #sessions = new Set<ProxySession>();
  readonly #idleWaiters: (() => void)[] = [];
  #listener: UnixListener | null;
  #next = 1;

  private constructor(opts: TraceProxyOptions, listener: UnixListener) {
    this.#opts = opts;
    this.listenPath = opts.listen;
    this.connectPath = opts.connect;
    this.#listener = listener;
    listener.onConnection((sock) => this.#accept(sock));
  }

  /** Starts listening. Throws (a SysError) when the listen path cannot be used. */
  static listen(opts: TraceProxyOptions): TraceProxy {
    const max = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE;
    if (!Number.isInteger(max) || max < 16 || max > 0xffffffff) {
      throw new VfioError(
        "EINVAL",
        `maxMessageSize must be an integer in [16, 2^32-1], got ${max}`,
      );
    }
    const high = opts.highWaterBytes ?? DEFAULT_HIGH_WATER;
    if (!Number.isSafeInteger(high) || high < 1) {
      throw new VfioError("EINVAL", `highWaterBytes must be a positive integer, got ${high}`);
    }
    const listener = listenUnix(opts.listen, { mode: opts.socketMode ?? 0o600 });
    return new TraceProxy(opts, listener);
  }

  /** Sessions currently open. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Bytes held by the proxy, received but not yet handed to the other side's kernel. */
  get queuedBytes(): number {
    let n = 0;
    for (const s of this.#sessions) n += s.queuedBytes;
    return n;
  }

  /** Resolves once no session is open. */
  idle(): Promise<void> {
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops listening (the socket file is removed) and ends every session. */
  async close(): Promise<void> {
    this.#listener?.close();
    this.#listener = null;
    for (const s of this.#sessions) s.close();
    await this.idle();
  }

  #now(): number {
    return performance.now() - this.#start;
  }

  #event(session: number, kind: SessionEvent["kind"], message: string): void {
    this.#opts.onEvent?.({ time: this.#now(), session, kind, message });
  }

  #accept(client: StreamSocket): void {
    const id = this.#next++;
    if (this.#listener === null) {
      client.close();
      return;
    }
    let server: StreamSocket;
    try {
      server = connectUnix(this.connectPath);
    } catch (err) {
      this.#event(id, "error", `cannot reach the server: ${(err as Error).message}`);
      client.close();
      return;
    }
    this.#event(id, "open", `client connected; forwarding to ${this.connectPath}`);
    const session = new ProxySession(id, client, server, {
      now: () => this.#now(),
      maxMessageSize: this.#opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE,
      highWaterBytes: this.#opts.highWaterBytes ?? DEFAULT_HIGH_WATER,
      interceptTwin: this.#opts.interceptTwin ?? true,
      record: (rec) => this.#opts.onRecord(rec),
      event: (ev) => this.#opts.onEvent?.(ev),
      closed: (s) => {
        this.#sessions.delete(s);
        if (this.#sessions.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
      },
    });
    this.#sessions.add(session);
  }
}
