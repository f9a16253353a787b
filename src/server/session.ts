import { errnoName, errnoOf, VfioError } from "../errors.js";
import {
  Command,
  type DecodedRequest,
  type DecodeOptions,
  type DmaRwLayout,
  decodeFrame,
  decodeReply,
  encodeReply,
  encodeRequest,
  HEADER_SIZE,
  negotiateVersion,
  type Session,
  type VersionMessage,
  type VersionPolicy,
  wantsNoReply,
} from "../protocol/index.js";
import { closeFdsQuietly, socketPair } from "../sys/index.js";
import type { StreamSocket } from "../sys/types.js";
import { type Connection, DEFAULT_MAX_MESSAGE_SIZE, type Frame } from "../transport/index.js";
import type { ClientInfo } from "./device.js";
import type { DeviceCore } from "./device-core.js";
import type { DmaFdPolicy, DmaRemote } from "./dma.js";
import type { HandlerContext, Reply } from "./handlers/context.js";
import { dmaMap, dmaUnmap } from "./handlers/dma.js";
import { deviceInfo, irqInfo, regionInfo, regionIoFds } from "./handlers/info.js";
import { setIrqs } from "./handlers/irqs.js";
import { regionRead, regionWrite, regionWriteMulti } from "./handlers/region-io.js";
import type { Logger } from "./logger.js";
import { DeviceHandlerError } from "./regions/handler-call.js";

/** ENOTTY: what the kernel answers for a VFIO feature it does not have. */
const ENOTTY = 25;

const NO_BODY: Reply = {};

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
 * One client connection: version negotiation, then its commands, processed strictly
 * in arrival order (the spec's rule; async device handlers included). When the
 * connection ends, everything the client set up goes: its DMA windows are unmapped,
 * its eventfds closed; the device state stays for the next client.
 */
export class ClientSession {
  readonly peer: string;
  readonly #cfg: SessionConfig;
  readonly #conn: Connection;
  readonly #socket: StreamSocket;
  #negotiated: Session | undefined;
  /** decodeFrame options: max_data_xfer_size once negotiated. */
  #decodeOpts: DecodeOptions;
  #queue: Frame[] = [];
  /** A drain is under way (maybe suspended on an async handler): new frames queue. */
  #running = false;
  readonly #resume = (): void => this.#drain();
  #ended = false;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

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
    for (const f of early) this.#enqueue(f);
    this.#conn.onRequest((frame) => this.#enqueue(frame));
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

  #enqueue(frame: Frame): void {
    if (this.#ended) {
      closeFdsQuietly(frame.fds);
      return;
    }
    this.#queue.push(frame);
    if (!this.#running) this.#drain();
  }

  /**
   * Handles queued frames in order, in this tick for as long as their handlers answer
   * synchronously. The first that returns a promise suspends the drain until it settles;
   * frames arriving meanwhile queue up behind it (`#running` stays set).
   */
  #drain(): void {
    this.#running = true;
    let pending: Promise<void> | undefined;
    try {
      while (pending === undefined && this.#queue.length > 0 && !this.#ended) {
        pending = this.#handle(this.#queue.shift()!);
      }
    } finally {
      if (pending === undefined) this.#running = false;
    }
    pending?.then(this.#resume, this.#resume);
  }

  /** Handles one frame; returns a promise only while its handler is still running. */
  #handle(frame: Frame): Promise<void> | undefined {
    const fds = frame.fds.length === 0 ? [] : frame.fds.slice();
    const ctx = new Ctx(this.#cfg, this.#negotiated, fds);
    let pending: Promise<void> | undefined;
    try {
      const msg = decodeFrame(
        frame.header,
        frame.body,
        fds.length,
        this.#decodeOpts,
      ) as DecodedRequest;
      const reply = this.#dispatch(msg, ctx);
      if (reply instanceof Promise) {
        pending = this.#finish(frame, ctx, reply);
        return pending;
      }
      this.#reply(frame, reply);
    } catch (err) {
      this.#replyError(frame, commandLabel(frame.header.command), err);
    } finally {
      if (pending === undefined && !ctx.taken) closeFdsQuietly(fds);
    }
    return undefined;
  }

  async #finish(frame: Frame, ctx: Ctx, reply: Promise<Reply>): Promise<void> {
    try {
      this.#reply(frame, await reply);
    } catch (err) {
      this.#replyError(frame, commandLabel(frame.header.command), err);
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

  #replyError(frame: Frame, name: string, err: unknown): void {
    const errno = err instanceof VfioError ? err.errno : errnoOf(err);
    const noReply = wantsNoReply(frame.header);
    const text = `${name} (id ${frame.header.id}) failed with ${errnoName(errno)}: ${(err as Error)?.message ?? err}`;
    if (!(err instanceof VfioError)) {
      this.#cfg.log.error(`${this.peer}: ${text}\n${(err as Error)?.stack ?? ""}`);
    } else if (err instanceof DeviceHandlerError) {
      // A device bug, not a client mistake: say so where the device author looks.
      const cause = err.cause as Error | undefined;
      this.#cfg.log.warn(`${this.peer}: ${text}${cause?.stack ? `\n${cause.stack}` : ""}`);
    } else if (noReply) this.#cfg.log.warn(`${this.peer}: ${text} (no reply requested)`);
    else this.#cfg.log.debug(`${this.peer}: ${text}`);
    this.#conn.replyError(frame, errno);
  }

  /**
   * Runs the command's handler; throws (or rejects) with a VfioError for an error reply.
   * A promise only when the handler needs one.
   */
  #dispatch(msg: DecodedRequest, ctx: HandlerContext): Reply | Promise<Reply> {
    if (msg.command === Command.VFIO_USER_VERSION) return this.#version(msg.body, ctx);
    if (this.#negotiated === undefined) {
      throw new VfioError("EINVAL", `${commandLabel(msg.command)} before VERSION negotiation`);
    }
    switch (msg.command) {
      case Command.VFIO_USER_DMA_MAP:
        return dmaMap(ctx, msg.body);
      case Command.VFIO_USER_DMA_UNMAP:
        return dmaUnmap(ctx, msg.body);
      case Command.VFIO_USER_DEVICE_GET_INFO:
        return deviceInfo(ctx, msg.body);
      case Command.VFIO_USER_DEVICE_GET_REGION_INFO:
        return regionInfo(ctx, msg.body);
      case Command.VFIO_USER_DEVICE_GET_REGION_IO_FDS:
        return regionIoFds(ctx, msg.body);
      case Command.VFIO_USER_DEVICE_GET_IRQ_INFO:
        return irqInfo(ctx, msg.body);
      case Command.VFIO_USER_DEVICE_SET_IRQS:
        return setIrqs(ctx, msg.body);
      case Command.VFIO_USER_REGION_READ:
        return regionRead(ctx, msg.body);
      case Command.VFIO_USER_REGION_WRITE:
        return regionWrite(ctx, msg.body);
      case Command.VFIO_USER_REGION_WRITE_MULTI:
        return regionWriteMulti(ctx, msg.body);
      case Command.VFIO_USER_DEVICE_RESET:
        return ctx.core.reset().then(() => NO_BODY);
      case Command.VFIO_USER_DMA_READ:
      case Command.VFIO_USER_DMA_WRITE:
        throw new VfioError("EINVAL", `${commandLabel(msg.command)} goes from server to client`);
      case Command.VFIO_USER_DEVICE_FEATURE:
        throw new VfioError(ENOTTY, "device features (migration, DMA logging) are not supported");
      default:
        throw new VfioError(
          "EOPNOTSUPP",
          `${commandLabel(msg.command)}: migration is not supported`,
        );
    }
  }

  #version(proposal: VersionMessage, ctx: HandlerContext): Reply {
    if (this.#negotiated !== undefined)
      throw new VfioError("EINVAL", "VERSION was already negotiated");
    const n = negotiateVersion(this.#cfg.policy, proposal, ctx.fds.length);
    if (!n.ok) {
      // The spec has the server close when it cannot serve the proposed version.
      this.#cfg.log.warn(`${this.peer}: version negotiation failed: ${n.reason}`);
      void this.#conn.end();
      throw new VfioError(n.errno, n.reason);
    }
    const session = n.session;
    let fds: number[] | undefined;
    if (session.twinSocket) {
      const [ours, theirs] = socketPair();
      this.#conn.attachTwin(ours, "server");
      fds = [theirs.detach()];
    }
    this.#negotiated = session;
    this.#decodeOpts = {
      maxDataXferSize: session.maxDataXferSize,
      dmaRwLayout: this.#cfg.dmaRwLayout,
    };
    this.#conn.setLimits({
      maxMessageSize: Math.max(
        DEFAULT_MAX_MESSAGE_SIZE,
        HEADER_SIZE + 64 + session.maxDataXferSize,
      ),
      maxFds: this.#cfg.maxMsgFds,
    });
    const core = this.#cfg.core;
    core.dma.attach(this.#remote(session), session.maxDmaMaps, session.pgsizes, this.#cfg.dmaFds);
    const info: ClientInfo = {
      ...peerIds(this.#socket),
      minor: session.minor,
      maxDataXferSize: session.maxDataXferSize,
      twinSocket: session.twinSocket,
    };
    this.#cfg.log.info(
      `${this.peer}: negotiated vfio-user ${session.major}.${session.minor} ` +
        `(max_data_xfer_size ${session.maxDataXferSize}, max_dma_maps ${session.maxDmaMaps}, ` +
        `write_multiple ${session.writeMultiple}, twin_socket ${session.twinSocket})`,
    );
    try {
      core.def.onAttach?.(info, core.context);
    } catch (err) {
      this.#cfg.log.warn(`${core.name}: onAttach threw: ${(err as Error)?.message ?? err}`);
    }
    return {
      body: encodeReply(Command.VFIO_USER_VERSION, n.reply),
      fds,
      closeFdsAfterSend: fds !== undefined,
    };
  }

  /** DMA_READ / DMA_WRITE to the client, for windows mapped without an fd. */
  #remote(session: Session): DmaRemote {
    const layout = this.#cfg.dmaRwLayout;
    const conn = this.#conn;
    return {
      maxXfer: session.maxDataXferSize,
      async read(iova, count) {
        const f = await conn.request(
          Command.VFIO_USER_DMA_READ,
          encodeRequest(
            Command.VFIO_USER_DMA_READ,
            { address: iova, count },
            { dmaRwLayout: layout },
          ),
        );
        closeFdsQuietly(f.fds);
        const r = decodeReply(Command.VFIO_USER_DMA_READ, f.body, {
          numFds: f.fds.length,
          dmaRwLayout: layout,
        });
        if (r.address !== iova || r.data.byteLength !== count) {
          throw new VfioError(
            "EIO",
            `DMA_READ reply for 0x${iova.toString(16)}+${count} describes 0x${r.address.toString(16)}+${r.data.byteLength}`,
          );
        }
        return r.data;
      },
      async write(iova, data) {
        const f = await conn.request(
          Command.VFIO_USER_DMA_WRITE,
          encodeRequest(
            Command.VFIO_USER_DMA_WRITE,
            { address: iova, data },
            { dmaRwLayout: layout },
          ),
        );
        closeFdsQuietly(f.fds);
      },
    };
  }

  async #teardown(err: VfioError | undefined): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    for (const f of this.#queue) closeFdsQuietly(f.fds);
    this.#queue = [];
    const core = this.#cfg.core;
    this.#cfg.log.info(`${this.peer}: disconnected${err ? ` (${err.message})` : ""}`);
    try {
      core.irqs.detachClient();
      await core.dma.detach();
      if (this.#negotiated !== undefined) core.def.onDetach?.(core.context);
    } catch (e) {
      this.#cfg.log.error(`${this.peer}: cleanup failed: ${(e as Error)?.message ?? e}`);
    } finally {
      this.#resolveDone();
    }
  }
}

/** One handler's context: a class, so no closure is built per message. */
class Ctx implements HandlerContext {
  readonly core: DeviceCore;
  readonly log: Logger;
  readonly verbose: boolean;
  taken = false;

  constructor(
    cfg: SessionConfig,
    readonly negotiated: Session | undefined,
    readonly fds: number[],
  ) {
    this.core = cfg.core;
    this.log = cfg.log;
    this.verbose = cfg.verbose;
  }

  takeFds(): number[] {
    this.taken = true;
    return this.fds;
  }
}

const COMMAND_LABELS = new Map<number, string>(
  Object.entries(Command).map(([name, v]) => [v, name.replace("VFIO_USER_", "")]),
);

function commandLabel(command: number): string {
  return COMMAND_LABELS.get(command) ?? `command ${command}`;
}

interface Credentialed {
  peerCredentials?(): { pid: number; uid: number };
}

function peerIds(socket: StreamSocket): { pid?: number; uid?: number } {
  try {
    const c = (socket as StreamSocket & Credentialed).peerCredentials?.();
    return c ? { pid: c.pid, uid: c.uid } : {};
  } catch {
    return {};
  }
}

function describePeer(socket: StreamSocket): string {
  const ids = peerIds(socket);
  return ids.pid !== undefined ? `client pid ${ids.pid}` : `client fd ${socket.fd}`;
}
