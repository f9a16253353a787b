import { EventEmitter } from "node:events";
import { Errno, VfioError } from "../errors.js";
import {
  DEFAULT_MAX_BITMAP_SIZE,
  type DmaRwLayout,
  type VersionPolicy,
  VFIO_USER_MAJOR,
  VFIO_USER_MINOR,
} from "../protocol/index.js";
import { closeFdsQuietly, listenUnix, type UnixListener } from "../sys/index.js";
import type { StreamSocket } from "../sys/types.js";
import { Connection, checkPollUs, type Frame } from "../transport/index.js";
import type { DeviceCore } from "./device-core.js";
import type { DmaFdPolicy } from "./dma.js";
import { debuglogLogger, type Logger } from "./logger.js";
import { deviceCore, type PciDevice } from "./pci-device.js";
import { type LogRateLimit, rateLimitedLogger } from "./rate-limited-logger.js";
import { ClientSession } from "./session.js";

/** Options of VfioUserServer: limits, timeouts, logging and DMA policies. */
export interface VfioUserServerOptions {
  /** Where to report connections and errors; default util.debuglog("vfio-server"). */
  logger?: Logger;
  /** Log every access (logger.debug). */
  verbose?: boolean;
  /**
   * At most `burst` info, warning and error messages each per `intervalMs` reach the
   * logger (default 20 per 5 s; the rest are counted and the count logged), so a
   * client cannot flood the log; false lets everything through. Debug output is never
   * limited.
   */
  logRateLimit?: LogRateLimit | false;
  /** Socket file mode; default 0o600. */
  socketMode?: number;
  /** Largest data transfer we accept or send in one message; default 1 MiB. */
  maxDataXferSize?: number;
  /** DMA windows a client may map at once; default 65535. */
  maxDmaMaps?: number;
  /** Fds we accept with one message; default 64. */
  maxMsgFds?: number;
  /** Offer twin-socket mode to clients that support it; default true. */
  twinSocket?: boolean;
  /**
   * Body layout of our DMA_READ/DMA_WRITE messages. "spec" (default) uses the 64-bit
   * count of spec 0.9.2 and libvfio-user; "qemu" the 32-bit count QEMU's client uses.
   */
  dmaRwLayout?: DmaRwLayout;
  /**
   * "map" (default) mmaps the fd of every DMA_MAP, as QEMU, libvfio-user and SPDK expect.
   * "sealed" mmaps only memfds sealed against shrinking (QEMU's memory-backend-memfd is,
   * by default, and so are our client's buffers) and reaches other windows through
   * DMA_READ/DMA_WRITE: then no client can crash the server by truncating its memory.
   */
  dmaFds?: DmaFdPolicy;
  /** Reply timeout of DMA_READ/DMA_WRITE in ms (0 = none); default 30000. */
  dmaTimeoutMs?: number;
  /** How long a refused client may take to send its first message; default 5000 ms. */
  refuseTimeoutMs?: number;
  /**
   * How long an admitted client may take to negotiate VERSION before it is closed, so
   * one that connects and says nothing cannot keep the device from the next; default
   * 10000 ms, 0 waits forever.
   */
  handshakeTimeoutMs?: number;
  /**
   * How long a client may leave a message half sent before it is closed (ETIMEDOUT), so
   * one that stops mid-message cannot hold the device; default 30000 ms, 0 waits forever.
   * A client idle between messages (an idle guest) is never closed.
   */
  partialMessageTimeoutMs?: number;
  /**
   * Opt-in busy polling (`vfio-ts serve --poll-us N`): after answering, spin up to this
   * many µs for the client's next message before sleeping in the event loop. Cuts round
   * trips for up to N µs of CPU per message; an idle client costs nothing. Default 0.
   */
  pollUs?: number;
}

/** Events of VfioUserServer: clients connecting, leaving and being refused. */
export interface VfioUserServerEvents {
  /** A client connected (before negotiation). */
  connect: [peer: string];
  /** The client left and its resources are released. */
  disconnect: [peer: string];
  /** A second client was turned away (EBUSY). */
  refuse: [peer: string];
}

/**
 * Serves one PciDevice on a UNIX socket to one client at a time.
 *
 * A second client, while one is connected, is accepted and its first message (its
 * VERSION) is answered with an EBUSY error reply, then the connection is closed; one
 * that sends nothing is closed after `refuseTimeoutMs`. That is what a real client
 * reports best: QEMU fails realize with "version reply ...: Device or resource busy"
 * instead of hanging in connect or seeing a bare EOF. A client that connects while the
 * previous one is still being cleaned up waits for the cleanup (which is short) and is
 * then served.
 */
export class VfioUserServer extends EventEmitter<VfioUserServerEvents> {
  readonly device: PciDevice;
  readonly #core: DeviceCore;
  readonly #log: Logger;
  readonly #opts: Required<Omit<VfioUserServerOptions, "logger" | "logRateLimit">>;
  readonly #policy: VersionPolicy;
  #listener: UnixListener | null = null;
  #session: ClientSession | null = null;
  #waiting: Pending[] = [];
  #pending = new Set<Pending>();
  #closed = false;
  #stats = { connections: 0, refused: 0 };

  constructor(device: PciDevice, options: VfioUserServerOptions = {}) {
    super();
    this.device = device;
    this.#core = deviceCore(device);
    const logger = options.logger ?? debuglogLogger();
    this.#log =
      options.logRateLimit === false ? logger : rateLimitedLogger(logger, options.logRateLimit);
    this.#opts = {
      verbose: options.verbose ?? false,
      socketMode: options.socketMode ?? 0o600,
      maxDataXferSize: options.maxDataXferSize ?? 1 << 20,
      maxDmaMaps: options.maxDmaMaps ?? 65535,
      maxMsgFds: options.maxMsgFds ?? 64,
      twinSocket: options.twinSocket ?? true,
      dmaRwLayout: options.dmaRwLayout ?? "spec",
      dmaFds: options.dmaFds ?? "map",
      dmaTimeoutMs: options.dmaTimeoutMs ?? 30000,
      refuseTimeoutMs: options.refuseTimeoutMs ?? 5000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      partialMessageTimeoutMs: options.partialMessageTimeoutMs ?? 30_000,
      pollUs: checkPollUs(options.pollUs),
    };
    if (!Number.isInteger(this.#opts.maxDataXferSize) || this.#opts.maxDataXferSize < 4096) {
      throw new VfioError("EINVAL", "maxDataXferSize must be an integer >= 4096");
    }
    this.#policy = {
      major: VFIO_USER_MAJOR,
      minor: VFIO_USER_MINOR,
      capabilities: {
        maxMsgFds: this.#opts.maxMsgFds,
        maxDataXferSize: this.#opts.maxDataXferSize,
        maxDmaMaps: this.#opts.maxDmaMaps,
        pgsizes: 4096n,
        // Dirty-page granularity (DMA_UNMAP GET_DIRTY_BITMAP), as QEMU and libvfio-user send it.
        migration: { pgsize: 4096n, maxBitmapSize: DEFAULT_MAX_BITMAP_SIZE },
        writeMultiple: true,
        twinSocket: { supported: this.#opts.twinSocket },
      },
    };
    this.#core.log = {
      warn: (m) => this.#log.warn(m),
      debug: (m) => {
        if (this.#opts.verbose) this.#log.debug(m);
      },
    };
  }

  /** Start listening at `path` (a stale socket file is replaced, a live one is not). */
  listen(path: string): this {
    if (this.#closed) throw new VfioError("EINVAL", "the server is closed");
    if (this.#listener)
      throw new VfioError("EALREADY", `already listening at ${this.#listener.path}`);
    this.#listener = listenUnix(path, { mode: this.#opts.socketMode });
    this.#listener.onConnection((sock) => this.#onConnection(sock));
    this.#log.info(`${this.#core.name}: listening on ${path}`);
    return this;
  }

  /**
   * Serve a socket that is already connected (the backend convention's --fd=FDNUM, or a
   * socketpair in tests). Subject to the same one-client rule.
   */
  serve(socket: StreamSocket): void {
    if (this.#closed) {
      socket.close();
      throw new VfioError("EINVAL", "the server is closed");
    }
    this.#onConnection(socket);
  }

  get path(): string | undefined {
    return this.#listener?.path;
  }

  /** True while a client is connected. */
  get busy(): boolean {
    return this.#session !== null;
  }

  get stats(): { readonly connections: number; readonly refused: number } {
    return { ...this.#stats };
  }

  /** Resolves once the current client (if any) has left and been cleaned up. */
  async idle(): Promise<void> {
    while (this.#session !== null) await this.#session.done;
  }

  /** Stop listening, disconnect the client, release nothing of the device itself. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener?.close();
    this.#listener = null;
    for (const p of [...this.#waiting, ...this.#pending]) p.conn.close();
    this.#waiting = [];
    await this.#session?.close();
  }

  #onConnection(sock: StreamSocket): void {
    const conn = new Connection(sock, {
      requestTimeoutMs: this.#opts.dmaTimeoutMs,
      pollUs: this.#opts.pollUs,
      partialMessageTimeoutMs: this.#opts.partialMessageTimeoutMs,
    });
    const p: Pending = { conn, sock, frames: [] };
    if (this.#session === null) {
      this.#admit(p);
      return;
    }
    // Busy: hold its messages until we know. The previous client may be gone already
    // (cleanup running) or about to be: one that closed and reconnected can be
    // accepted before we have read its old connection's EOF.
    p.timer = setTimeout(() => conn.close(), this.#opts.refuseTimeoutMs);
    p.timer.unref();
    this.#pending.add(p);
    conn.onRequest((frame) => {
      p.frames.push(frame);
      if (p.frames.length !== 1 || this.#waiting.includes(p)) return;
      if (this.#session?.ended === false) setTimeout(() => this.#decide(p), DECIDE_DELAY_MS);
      else this.#decide(p);
    });
    p.onClose = () => {
      clearTimeout(p.timer);
      this.#pending.delete(p);
      for (const f of p.frames.splice(0)) closeFdsQuietly(f.fds);
    };
    conn.on("close", p.onClose);
    if (this.#session.ended) this.#waiting.push(p);
  }

  #decide(p: Pending): void {
    if (p.conn.closed || this.#closed || this.#waiting.includes(p)) return;
    if (this.#session === null) this.#admit(p);
    else if (this.#session.ended) this.#waiting.push(p);
    else this.#refuse(p);
  }

  #admit(p: Pending): void {
    this.#pending.delete(p);
    clearTimeout(p.timer);
    if (p.onClose) p.conn.off("close", p.onClose);
    const session = new ClientSession(
      p.conn,
      p.sock,
      {
        core: this.#core,
        log: this.#log,
        verbose: this.#opts.verbose,
        policy: this.#policy,
        dmaRwLayout: this.#opts.dmaRwLayout,
        dmaFds: this.#opts.dmaFds,
        maxMsgFds: this.#opts.maxMsgFds,
      },
      p.frames.splice(0),
    );
    this.#session = session;
    this.#stats.connections++;
    this.#log.info(`${this.#core.name}: ${session.peer} connected`);
    this.emit("connect", session.peer);
    this.#armHandshakeDeadline(session);
    void session.done.then(() => {
      this.#session = null;
      this.emit("disconnect", session.peer);
      const waiting = this.#waiting.splice(0).filter((w) => !w.conn.closed);
      const next = waiting.shift();
      if (next && !this.#closed) this.#admit(next);
      // The others wait for their first message, then are refused (or admitted).
      for (const w of waiting) if (w.frames.length > 0) this.#decide(w);
    });
  }

  /** Closes a client that has not negotiated VERSION in time (see handshakeTimeoutMs). */
  #armHandshakeDeadline(session: ClientSession): void {
    const ms = this.#opts.handshakeTimeoutMs;
    if (ms === 0) return;
    const timer = setTimeout(() => {
      if (session.negotiated !== undefined || session.ended) return;
      this.#log.warn(
        `${this.#core.name}: ${session.peer} did not negotiate VERSION within ${ms} ms; closing it`,
      );
      void session.close();
    }, ms);
    timer.unref();
    void session.done.then(() => clearTimeout(timer));
  }

  /** Answers everything the client sent with EBUSY, then closes. */
  #refuse(p: Pending): void {
    this.#stats.refused++;
    const peer = `client fd ${p.sock.fd}`;
    this.#log.warn(`${this.#core.name}: refusing ${peer}: a client is already connected`);
    this.emit("refuse", peer);
    const answer = (frame: Frame) => {
      closeFdsQuietly(frame.fds);
      p.conn.replyError(frame, Errno.EBUSY);
    };
    for (const f of p.frames.splice(0)) answer(f);
    p.conn.onRequest(answer);
    void p.conn.end();
  }
}

/** A connection that arrived while a client was being served. */
interface Pending {
  readonly conn: Connection;
  readonly sock: StreamSocket;
  readonly frames: Frame[];
  /** Closes a client that never says anything while we are busy. */
  timer?: NodeJS.Timeout;
  onClose?: () => void;
}

/** How long a busy server waits before refusing, so a previous client's EOF is seen first. */
const DECIDE_DELAY_MS = 10;
