import { EventEmitter } from "node:events";
import { debuglog } from "node:util";
import { Errno, errnoOf, VfioError } from "../errors.js";
import {
  commandName,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_COMMAND,
  VFIO_USER_F_TYPE_REPLY,
} from "../protocol/constants.js";
import { isCommand, isErrorReply, isReply, wantsNoReply } from "../protocol/header.js";
import type { StreamSocket } from "../sys/types.js";
import type {
  ConnectionEvents,
  ConnectionOptions,
  RequestHandler,
  RequestOptions,
  SendOptions,
  TwinRole,
} from "./connection-options.js";
import { closeFds } from "./fds.js";
import { FlowControl } from "./flow-control.js";
import { type Body, EMPTY_BODY, type Frame } from "./frame.js";
import { checkLimits, type Limits } from "./limits.js";
import { type FrameSink, MessageReader, type ReceivedFrame } from "./message-reader.js";
import { MessageWriter } from "./message-writer.js";
import { ReplyError } from "./reply-error.js";
import { EXPIRED, RequestTable, type Waiter } from "./request-table.js";

const debug = debuglog("vfio-transport");

interface Channel {
  readonly name: string;
  readonly socket: StreamSocket;
  readonly sink: FrameSink;
  readonly reader: MessageReader;
  readonly writer: MessageWriter;
}

/** What sys sockets offer beyond StreamSocket (UnixSocket does). */
interface Refable {
  ref?(): void;
  unref?(): void;
}

/**
 * A vfio-user message channel: our requests with their replies, the peer's commands
 * with ours. Pipelined (any number of requests in flight, replies in any order).
 *
 * Error replies reject `request()` with a ReplyError (a VfioError carrying the peer's
 * errno). A reply whose id matches no request of ours (or one that timed out) is
 * dropped and its fds closed; `droppedReplies` counts them. A reply whose command
 * differs from its request's rejects that request with EPROTO.
 *
 * Twin-socket mode: `attachTwin()` adds the second socket negotiated in VERSION.
 * Commands from either socket reach the same handler and are answered on the socket
 * they came from; replies settle requests whichever socket they arrive on; our own
 * requests go on the twin only for the "server" role (server-to-client commands).
 * Either socket ending ends the connection.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  private readonly main: Channel;
  private twin: Channel | null = null;
  /** Where our requests and notifications go. */
  private out: Channel;
  private readonly table = new RequestTable();
  private readonly readerOptions: ConnectionOptions;
  private readonly requestTimeoutMs: number;
  private handler: RequestHandler | null = null;
  private isClosed = false;
  private error: VfioError | undefined;
  private weak = false;
  private dropped = 0;
  private readonly timeoutCb = (w: Waiter): void => this.onTimeout(w);
  private readonly flow: FlowControl;

  constructor(socket: StreamSocket, options: ConnectionOptions = {}) {
    super();
    const timeout = options.requestTimeoutMs ?? 0;
    if (!(timeout >= 0)) throw new RangeError(`requestTimeoutMs must be >= 0, got ${timeout}`);
    this.requestTimeoutMs = timeout;
    const self = this;
    this.flow = new FlowControl(options, {
      get queuedBytes() {
        return self.queuedBytes;
      },
      get closed() {
        return self.isClosed;
      },
      channels: () => this.channels(),
      handle: (frame) => this.handle(frame),
      stalled: (err) => this.shutdown(err, false),
    });
    this.readerOptions = { ...options };
    this.main = this.openChannel(socket, "main");
    this.out = this.main;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Why the connection closed, if it closed because of an error. */
  get closeError(): VfioError | undefined {
    return this.error;
  }

  /** Our requests still waiting for a reply. */
  get pendingRequests(): number {
    return this.table.size;
  }

  /** Replies that matched no waiting request (unknown id or already timed out). */
  get droppedReplies(): number {
    return this.dropped;
  }

  /** Bytes accepted for sending that the kernel has not taken yet (backpressure). */
  get queuedBytes(): number {
    return this.main.writer.queuedBytes + (this.twin?.writer.queuedBytes ?? 0);
  }

  /** Set (or clear) the handler for the peer's commands. */
  onRequest(handler: RequestHandler | null): void {
    this.handler = handler;
  }

  /** Change receive limits on every socket, e.g. after negotiation. */
  setLimits(limits: Partial<Limits>): void {
    checkLimits(limits);
    Object.assign(this.readerOptions, limits);
    this.main.reader.setLimits(limits);
    this.twin?.reader.setLimits(limits);
  }

  /**
   * Send a command and wait for its reply. Resolves with the reply frame (its fds are
   * the caller's); rejects with ReplyError on an error reply, ETIMEDOUT on timeout,
   * ENOTCONN/ECONNRESET/... when the connection closes first, EAGAIN when 65536
   * requests are in flight.
   */
  request(command: number, body: Body = EMPTY_BODY, options?: RequestOptions): Promise<Frame> {
    if (this.isClosed) {
      if (options?.closeFdsAfterSend && options.fds) closeFds(options.fds);
      return Promise.reject(this.notConnected(command));
    }
    const id = this.table.freeId();
    if (id < 0) {
      if (options?.closeFdsAfterSend && options.fds) closeFds(options.fds);
      return Promise.reject(
        new VfioError("EAGAIN", `${commandName(command)}: all 65536 message ids are in flight`),
      );
    }
    const full = this.flow.overfull(command);
    if (full !== null) {
      if (options?.closeFdsAfterSend && options.fds) closeFds(options.fds);
      return Promise.reject(full);
    }
    const timeoutMs = options?.timeoutMs ?? this.requestTimeoutMs;
    let waiter: Waiter | undefined;
    const promise = new Promise<Frame>((resolve, reject) => {
      waiter = { id, command, timeoutMs, resolve, reject, timer: undefined };
    });
    const w = waiter!;
    this.table.add(w);
    if (timeoutMs > 0) w.timer = setTimeout(this.timeoutCb, timeoutMs, w);
    if (this.weak && this.table.size === 1) this.setRef(true);
    try {
      this.out.writer.write(
        id,
        command,
        VFIO_USER_F_TYPE_COMMAND,
        0,
        body,
        options?.fds,
        options?.closeFdsAfterSend,
      );
    } catch (err) {
      // Unframeable message (too large, too many fds): nothing was sent.
      if (this.table.take(id) === w) this.settled(w);
      w.reject(err as Error);
    }
    this.flow.afterSend();
    return promise;
  }

  /** Send a command with NO_REPLY. Throws ENOTCONN if the connection is closed. */
  notify(command: number, body: Body = EMPTY_BODY, options?: SendOptions): void {
    if (this.isClosed) {
      if (options?.closeFdsAfterSend && options.fds) closeFds(options.fds);
      throw this.notConnected(command);
    }
    const full = this.flow.overfull(command);
    if (full !== null) {
      if (options?.closeFdsAfterSend && options.fds) closeFds(options.fds);
      throw full;
    }
    // Ids of waiting requests are skipped so a buggy peer's reply cannot settle them.
    const id = Math.max(this.table.freeId(), 0);
    this.out.writer.write(
      id,
      command,
      VFIO_USER_F_TYPE_COMMAND | VFIO_USER_F_NO_REPLY,
      0,
      body,
      options?.fds,
      options?.closeFdsAfterSend,
    );
    this.flow.afterSend();
  }

  /**
   * Answer one of the peer's commands on the socket it came from. A no-op for commands
   * with NO_REPLY and after the connection closed (fds to close are closed).
   */
  reply(request: Frame, body: Body = EMPTY_BODY, options?: SendOptions): void {
    const ch = this.replyChannel(request);
    if (ch === null) {
      if (options?.closeFdsAfterSend && options.fds) closeFds(options.fds);
      return;
    }
    const h = request.header;
    ch.writer.write(
      h.id,
      h.command,
      VFIO_USER_F_TYPE_REPLY,
      0,
      body,
      options?.fds,
      options?.closeFdsAfterSend,
    );
    this.flow.afterSend();
  }

  /** Answer one of the peer's commands with an error reply (header only, ERROR flag, errno). */
  replyError(request: Frame, errno: number): void {
    const ch = this.replyChannel(request);
    if (ch === null) return;
    const h = request.header;
    const e = errno > 0 ? errno : Errno.EIO;
    ch.writer.write(h.id, h.command, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR, e, EMPTY_BODY);
    this.flow.afterSend();
  }

  /** Whether reading the peer is paused because it does not take what we send. */
  get throttledByPeer(): boolean {
    return this.flow.throttled;
  }

  private channels(): Channel[] {
    return this.twin === null ? [this.main] : [this.main, this.twin];
  }

  /**
   * Add the twin socket negotiated in VERSION. As "server", our requests (DMA_READ,
   * DMA_WRITE) go over it from now on; as "client", the server's commands arrive on it.
   */
  attachTwin(socket: StreamSocket, role: TwinRole): void {
    if (this.isClosed) {
      socket.close();
      throw new VfioError("ENOTCONN", "cannot attach a twin socket to a closed connection");
    }
    if (this.twin !== null) throw new VfioError("EALREADY", "a twin socket is already attached");
    this.twin = this.openChannel(socket, "twin");
    if (this.weak && this.table.size === 0) this.setRef(false);
    if (role === "server") this.out = this.twin;
  }

  /**
   * Let the process exit while this connection is idle: the sockets stop keeping the
   * event loop alive whenever no request of ours is waiting for a reply.
   */
  unref(): void {
    this.weak = true;
    if (this.table.size === 0) this.setRef(false);
  }

  /** Undo unref(): the sockets keep the process alive again. */
  ref(): void {
    this.weak = false;
    this.setRef(true);
  }

  /**
   * Close now: unsent data is dropped, waiting requests reject with ENOTCONN, sockets
   * are closed, 'close' follows on the next tick. Idempotent.
   */
  close(): void {
    this.shutdown(undefined, false);
  }

  /**
   * Close once what is queued has reached the kernel, so the peer reads our last
   * messages (typically an error reply) before EOF; after `maxWaitMs` at the latest,
   * since a peer that does not read must not keep the connection. Starts on the next
   * turn of the event loop, so a message queued right after this call still goes
   * out. Incoming messages are still handled meanwhile. Resolves once closed.
   */
  end(maxWaitMs = 1000): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        for (const ch of [this.main, this.twin]) ch?.writer.onDrain(null);
        this.close();
        resolve();
      };
      const check = (): void => {
        if (this.isClosed || this.queuedBytes === 0) finish();
      };
      setImmediate(() => {
        if (this.isClosed || this.queuedBytes === 0) {
          finish();
          return;
        }
        timer = setTimeout(finish, maxWaitMs);
        timer.unref();
        for (const ch of [this.main, this.twin]) ch?.writer.onDrain(check);
        this.once("close", finish);
      });
    });
  }

  private openChannel(socket: StreamSocket, name: string): Channel {
    // The sink is what received frames point to (`via`): it tells reply() the socket.
    const sink: FrameSink = {
      onFrame: (frame) => this.dispatch(frame),
      onEnd: (err) => this.channelEnded(name, err),
    };
    const writer = new MessageWriter(socket, (err) =>
      this.shutdown(
        new VfioError(err.errno, `${name} socket: ${err.message}`, { cause: err }),
        true,
      ),
    );
    const reader = new MessageReader(socket, sink, this.readerOptions);
    const ch: Channel = { name, socket, sink, reader, writer };
    reader.start();
    return ch;
  }

  private dispatch(frame: ReceivedFrame): void {
    const h = frame.header;
    if (isReply(h)) {
      this.settle(frame);
      return;
    }
    // While throttled, the peer's commands already received wait here, in order: the
    // readers are paused, so this holds at most what one receive brought in.
    if (this.flow.hold(frame)) return;
    this.handle(frame);
  }

  private handle(frame: ReceivedFrame): void {
    const h = frame.header;
    const handler = this.handler;
    if (handler === null) {
      closeFds(frame.fds);
      debug("no handler for %s (id %d)", commandName(h.command), h.id);
      this.replyError(frame, Errno.ENOSYS);
      return;
    }
    try {
      handler(frame, this);
    } catch (err) {
      this.shutdown(
        new VfioError(
          errnoOf(err),
          `request handler threw on ${commandName(h.command)}: ${(err as Error)?.message ?? err}`,
          { cause: err },
        ),
        true,
      );
    }
  }

  private settle(frame: ReceivedFrame): void {
    const h = frame.header;
    const w = this.table.take(h.id);
    if (w === undefined || w === EXPIRED) {
      this.dropped++;
      closeFds(frame.fds);
      debug(
        "dropped %s reply to %s (id %d)",
        w === EXPIRED ? "late" : "unexpected",
        commandName(h.command),
        h.id,
      );
      return;
    }
    this.settled(w);
    if (h.command !== w.command) {
      closeFds(frame.fds);
      w.reject(
        new VfioError(
          "EPROTO",
          `protocol violation: reply to ${commandName(w.command)} (message id ${h.id}) carries command ${commandName(h.command)}`,
        ),
      );
    } else if (isErrorReply(h)) {
      closeFds(frame.fds);
      w.reject(new ReplyError(h.command, h.id, h.error));
    } else {
      w.resolve(frame);
    }
  }

  /** Bookkeeping once a waiter has left the table. */
  private settled(w: Waiter): void {
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (this.weak && this.table.size === 0) this.setRef(false);
  }

  private onTimeout(w: Waiter): void {
    if (!this.table.expire(w)) return;
    w.timer = undefined;
    this.settled(w);
    w.reject(
      new VfioError(
        "ETIMEDOUT",
        `${commandName(w.command)} (message id ${w.id}) got no reply within ${w.timeoutMs} ms`,
      ),
    );
  }

  private channelEnded(name: string, err: VfioError | undefined): void {
    if (err === undefined) {
      this.shutdown(undefined, true);
      return;
    }
    this.shutdown(new VfioError(err.errno, `${name} socket: ${err.message}`, { cause: err }), true);
  }

  private replyChannel(request: Frame): Channel | null {
    if (!isCommand(request.header)) {
      throw new TypeError("reply() needs a command frame, got a reply");
    }
    if (this.isClosed || wantsNoReply(request.header)) return null;
    const via = (request as Partial<ReceivedFrame>).via;
    return this.twin !== null && via === this.twin.sink ? this.twin : this.main;
  }

  private setRef(on: boolean): void {
    for (const ch of [this.main, this.twin]) {
      if (ch === null) continue;
      const s = ch.socket as StreamSocket & Refable;
      if (on) s.ref?.();
      else s.unref?.();
    }
  }

  private notConnected(command: number): VfioError {
    return new VfioError(
      this.error?.errno ?? Errno.ENOTCONN,
      `${commandName(command)}: connection is closed${this.error ? ` (${this.error.message})` : ""}`,
    );
  }

  /** `byPeer`: the peer or the socket ended it (EOF, error), not our close(). */
  private shutdown(err: VfioError | undefined, byPeer: boolean): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.error = err;
    this.flow.close();
    for (const ch of [this.main, this.twin]) {
      if (ch === null) continue;
      ch.reader.stop();
      ch.writer.close();
      ch.socket.close();
    }
    const waiters = this.table.drain();
    const reason =
      err !== undefined ? err.message : byPeer ? "peer closed the connection" : "connection closed";
    const errno = err?.errno ?? (byPeer ? Errno.ECONNRESET : Errno.ENOTCONN);
    for (const w of waiters) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.reject(
        new VfioError(errno, `${commandName(w.command)} (message id ${w.id}) aborted: ${reason}`, {
          cause: err,
        }),
      );
    }
    process.nextTick(() => {
      if (err !== undefined && this.listenerCount("error") > 0) this.emit("error", err);
      this.emit("close", err);
    });
  }
}
