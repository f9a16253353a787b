import { errnoName, errnoOf, VfioError } from "../errors.js";
import {
  commandLabel,
  type DecodedRequest,
  type DecodeOptions,
  type DmaRwLayout,
  decodeFrame,
  type Session,
  type VersionMessage,
  type VersionPolicy,
  wantsNoReply,
} from "../protocol/index.js";
import { closeFdsQuietly } from "../sys/index.js";
import type { StreamSocket } from "../sys/types.js";
import type { Connection, Frame } from "../transport/index.js";
import { CommandQueue } from "./command-queue.js";
import type { DeviceCore } from "./device-core.js";
import { dispatch } from "./dispatch.js";
import type { DmaFdPolicy } from "./dma.js";
import type { HandlerContext, Reply } from "./handlers/context.js";
import type { Logger } from "./logger.js";
import { acceptedXferSize, negotiate } from "./negotiation.js";
import { describePeer } from "./peer.js";
import { DeviceHandlerError } from "./regions/handler-call.js";

export interface SessionConfig {
  readonly core: DeviceCore;
  readonly log: Logger;
  readonly verbose: boolean;
  readonly policy: VersionPolicy;
  readonly dmaRwLayout: DmaRwLayout;
  readonly dmaFds: DmaFdPolicy;
  /** Most fds we accept with one message once negotiated. */
  readonly maxMsgFds: number;
}

/**
 * One client connection: its commands, decoded and dispatched in arrival order, and
 * their replies. When the connection ends, everything the client set up goes: its DMA
 * windows are unmapped, its eventfds closed; the device state stays for the next client.
 */
export class ClientSession {
  readonly peer: string;
  readonly #cfg: SessionConfig;
  readonly #conn: Connection;
  readonly #socket: StreamSocket;
  readonly #queue: CommandQueue<Frame>;
  #negotiated: Session | undefined;
  /** decodeFrame options: max_data_xfer_size once negotiated. */
  #decodeOpts: DecodeOptions;
  #ended = false;
  readonly #done: Promise<void>;
  #resolveDone: () => void = () => {};

  /**
   * Takes over `conn` (whose `socket` it reads credentials from); `early` are frames
   * that arrived before the session existed, processed first.
   */
  constructor(
    conn: Connection,
    socket: StreamSocket,
    cfg: SessionConfig,
    early: readonly Frame[] = [],
  ) {
    this.#cfg = cfg;
    this.#decodeOpts = { dmaRwLayout: cfg.dmaRwLayout };
    this.#socket = socket;
    this.peer = describePeer(socket);
    this.#done = new Promise((r) => {
      this.#resolveDone = r;
    });
    this.#conn = conn;
    this.#queue = new CommandQueue(
      (frame) => this.#handle(frame),
      (frame) => closeFdsQuietly(frame.fds),
    );
    for (const f of early) this.#queue.push(f);
    this.#conn.onRequest((frame) => this.#queue.push(frame));
    if (conn.closed) void this.#teardown(conn.closeError);
    else this.#conn.on("close", (err) => void this.#teardown(err));
  }

  /** Resolves once the client is gone and its resources are released. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** True once the connection ended (teardown may still be running). */
  get ended(): boolean {
    return this.#ended;
  }

  get negotiated(): Session | undefined {
    return this.#negotiated;
  }

  /** Disconnect the client (server shutdown); resolves after teardown. */
  close(): Promise<void> {
    this.#conn.close();
    return this.#done;
  }

  /** VERSION, for the dispatch table: negotiate, then decode with the agreed limits. */
  negotiate(proposal: VersionMessage, numFds: number): Reply {
    if (this.#negotiated !== undefined) {
      throw new VfioError("EINVAL", "VERSION was already negotiated");
    }
    const r = negotiate(this.#cfg, this.#conn, this.#socket, this.peer, proposal, numFds);
    this.#negotiated = r.session;
    this.#decodeOpts = {
      maxDataXferSize: acceptedXferSize(this.#cfg),
      dmaRwLayout: this.#cfg.dmaRwLayout,
    };
    return r.reply;
  }

  /** Handles one frame; returns a promise only while its handler is still running. */
  #handle(frame: Frame): Promise<void> | undefined {
    const fds = frame.fds.length === 0 ? [] : frame.fds.slice();
    const ctx = new Ctx(this, fds);
    let pending: Promise<void> | undefined;
    try {
      const msg = decodeFrame(
        frame.header,
        frame.body,
        fds.length,
        this.#decodeOpts,
      ) as DecodedRequest;
      const reply = dispatch(msg, ctx);
      if (reply instanceof Promise) {
        pending = this.#finish(frame, ctx, reply);
        return pending;
      }
      this.#reply(frame, reply);
    } catch (err) {
      this.#replyError(frame, err);
    } finally {
      if (pending === undefined && !ctx.taken) closeFdsQuietly(fds);
    }
    return undefined;
  }

  async #finish(frame: Frame, ctx: Ctx, reply: Promise<Reply>): Promise<void> {
    try {
      this.#reply(frame, await reply);
    } catch (err) {
      this.#replyError(frame, err);
    } finally {
      if (!ctx.taken) closeFdsQuietly(ctx.fds);
    }
  }

  #reply(frame: Frame, reply: Reply): void {
    this.#conn.reply(
      frame,
      reply.body,
      reply.fds === undefined
        ? undefined
        : { fds: reply.fds, closeFdsAfterSend: reply.closeFdsAfterSend },
    );
  }

  #replyError(frame: Frame, err: unknown): void {
    const errno = err instanceof VfioError ? err.errno : errnoOf(err);
    const noReply = wantsNoReply(frame.header);
    const name = commandLabel(frame.header.command);
    const text = `${name} (id ${frame.header.id}) failed with ${errnoName(errno)}: ${(err as Error)?.message ?? err}`;
    const log = this.#cfg.log;
    if (!(err instanceof VfioError)) {
      log.error(`${this.peer}: ${text}\n${(err as Error)?.stack ?? ""}`);
    } else if (err instanceof DeviceHandlerError) {
      // A device bug, not a client mistake: say so where the device author looks.
      const cause = err.cause as Error | undefined;
      log.warn(`${this.peer}: ${text}${cause?.stack ? `\n${cause.stack}` : ""}`);
    } else if (noReply) log.warn(`${this.peer}: ${text} (no reply requested)`);
    else log.debug(`${this.peer}: ${text}`);
    this.#conn.replyError(frame, errno);
  }

  async #teardown(err: VfioError | undefined): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue.close();
    const core = this.#cfg.core;
    this.#cfg.log.info(`${this.peer}: disconnected${err ? ` (${err.message})` : ""}`);
    try {
      core.irqs.detachClient();
      await core.dma.detach();
      if (this.#negotiated !== undefined) core.clientDetached();
    } catch (e) {
      this.#cfg.log.error(`${this.peer}: cleanup failed: ${(e as Error)?.message ?? e}`);
    } finally {
      this.#resolveDone();
    }
  }

  /** For Ctx: the configuration every handler reads. */
  get config(): SessionConfig {
    return this.#cfg;
  }
}

/** One handler's context: a class, so no closure is built per message. */
class Ctx implements HandlerContext {
  readonly core: DeviceCore;
  readonly log: Logger;
  readonly verbose: boolean;
  readonly negotiated: Session | undefined;
  taken = false;

  constructor(
    readonly session: ClientSession,
    readonly fds: number[],
  ) {
    const cfg = session.config;
    this.core = cfg.core;
    this.log = cfg.log;
    this.verbose = cfg.verbose;
    this.negotiated = session.negotiated;
  }

  takeFds(): number[] {
    this.taken = true;
    return this.fds;
  }

  negotiate(proposal: VersionMessage): Reply {
    return this.session.negotiate(proposal, this.fds.length);
  }
}
