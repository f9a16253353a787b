/**
 * One proxied client connection: frames are forwarded between the client's
 * socket and a connection to the real server exactly as received (the header is
 * written back from its parsed fields, which reproduces its 16 bytes; the body
 * is the received bytes; the fds are passed on), then reported to the observer.
 *
 * Twin-socket mode: when the server hands the client a twin socket in its VERSION
 * reply, the proxy passes the client one end of a fresh socket pair in its place
 * and forwards between the other end and the server's socket, so the
 * server-to-client commands are traced too. The message bytes are unchanged.
 */
import type { VfioError } from "../../errors.js";
import {
  Command,
  decodeFrame,
  isErrorReply,
  isReply,
  type VersionMessage,
  wantsNoReply,
} from "../../protocol/index.js";
import { closeFdsQuietly, socketPair, UnixSocket } from "../../sys/index.js";
import type { StreamSocket } from "../../sys/types.js";
import {
  type Frame,
  MAX_FDS_PER_MESSAGE,
  MessageReader,
  MessageWriter,
} from "../../transport/index.js";
import { decodeForTrace } from "./decode.js";
import { LatencyTracker } from "./latency.js";
import type { ChannelName, Direction, SessionEvent, TraceRecord } from "./record.js";

export interface SessionHooks {
  readonly now: () => number;
  readonly maxMessageSize: number;
  /** Queued bytes towards one side at which reading from the other side pauses. */
  readonly highWaterBytes: number;
  readonly interceptTwin: boolean;
  record(rec: TraceRecord): void;
  event(ev: SessionEvent): void;
  /** Once, after every socket of the session is closed. */
  closed(session: ProxySession): void;
}

interface Channel {
  readonly name: ChannelName;
  readonly sockets: readonly [StreamSocket, StreamSocket];
  readonly readers: MessageReader[];
  readonly writers: MessageWriter[];
}

/** How long a closing session waits for queued frames to reach the kernel. */
const FLUSH_WAIT_MS = 1000;

export class ProxySession {
  readonly id: number;
  readonly #hooks: SessionHooks;
  readonly #channels: Channel[] = [];
  readonly #latency = new LatencyTracker();
  #ending = false;
  #done = false;

  constructor(id: number, client: StreamSocket, server: StreamSocket, hooks: SessionHooks) {
    this.id = id;
    this.#hooks = hooks;
    this.#link("main", client, server);
  }

  get closed(): boolean {
    return this.#done;
  }

  /** Ends the session: stops reading, lets queued frames out (briefly), closes everything. */
  close(reason = "proxy closing"): void {
    this.#end(undefined, reason);
  }

  #link(name: ChannelName, client: StreamSocket, server: StreamSocket): void {
    const toServer = new MessageWriter(server, (err) => this.#end(err, `send to server failed`));
    const toClient = new MessageWriter(client, (err) => this.#end(err, `send to client failed`));
    const limits = { maxFds: MAX_FDS_PER_MESSAGE, maxMessageSize: this.#hooks.maxMessageSize };
    const fromClient: MessageReader = new MessageReader(
      client,
      {
        onFrame: (f) => this.#onFrame(name, "c2s", f, toServer, fromClient),
        onEnd: (err) => this.#end(err, `${name === "twin" ? "twin: " : ""}client closed`),
      },
      limits,
    );
    const fromServer: MessageReader = new MessageReader(
      server,
      {
        onFrame: (f) => this.#onFrame(name, "s2c", f, toClient, fromServer),
        onEnd: (err) => this.#end(err, `${name === "twin" ? "twin: " : ""}server closed`),
      },
      limits,
    );
    // Backpressure: see #onFrame; reading resumes once the backlog is out.
    toServer.onDrain(() => fromClient.resume());
    toClient.onDrain(() => fromServer.resume());
    this.#channels.push({
      name,
      sockets: [client, server],
      readers: [fromClient, fromServer],
      writers: [toServer, toClient],
    });
    fromClient.start();
    fromServer.start();
  }

  /** Bytes received but not yet passed on to either side's kernel buffer. */
  get queuedBytes(): number {
    let n = 0;
    for (const ch of this.#channels) for (const w of ch.writers) n += w.queuedBytes;
    return n;
  }

  #onFrame(
    channel: ChannelName,
    dir: Direction,
    f: Frame,
    out: MessageWriter,
    source: MessageReader,
  ): void {
    const time = this.#hooks.now();
    const h = f.header;
    let fds = f.fds;
    if (this.#ending) {
      closeFdsQuietly(fds);
      return;
    }
    if (channel === "main" && dir === "s2c" && fds.length > 0 && this.#hooks.interceptTwin) {
      fds = this.#maybeInterceptTwin(f);
    }
    try {
      out.write(h.id, h.command, h.flags, h.error, f.body, fds, true);
    } catch (err) {
      // Only unframeable messages throw here, and the reader would not have framed one.
      this.#end(err as VfioError, "forwarding failed");
      return;
    }
    if (out.queuedBytes >= this.#hooks.highWaterBytes) source.pause();
    let latencyMs: number | undefined;
    if (isReply(h)) latencyMs = this.#latency.reply(channel, dir, h.id, time);
    else if (!wantsNoReply(h)) this.#latency.request(channel, dir, h.id, time);
    const decoded = decodeForTrace(h, f.body, fds.length);
    this.#hooks.record({
      time,
      session: this.id,
      channel,
      direction: dir,
      header: h,
      body: f.body,
      fds: fds.length,
      decoded: decoded.body,
      decodeError: decoded.error,
      latencyMs,
    });
  }

  /** Swaps the server's twin socket in a VERSION reply for one end of our own pair. */
  #maybeInterceptTwin(f: Frame): number[] {
    const h = f.header;
    if (h.command !== Command.VFIO_USER_VERSION || !isReply(h) || isErrorReply(h)) return f.fds;
    let reply: VersionMessage;
    try {
      const m = decodeFrame(h, f.body, f.fds.length);
      if (m.kind !== "reply") return f.fds;
      reply = m.body as VersionMessage;
    } catch {
      return f.fds;
    }
    const twin = reply.capabilities?.twinSocket;
    const index = twin?.fdIndex;
    if (!twin?.supported || index === undefined || index >= f.fds.length) return f.fds;
    let ours: UnixSocket;
    let theirs: UnixSocket;
    try {
      [ours, theirs] = socketPair();
    } catch (err) {
      this.#event("error", `cannot trace the twin socket: ${(err as Error).message}`);
      return f.fds;
    }
    const fds = f.fds.slice();
    const serverTwin = new UnixSocket(fds[index]!);
    fds[index] = theirs.detach();
    this.#link("twin", ours, serverTwin);
    this.#event("twin", "server-to-client twin socket is traced");
    return fds;
  }

  #event(kind: SessionEvent["kind"], message: string): void {
    this.#hooks.event({ time: this.#hooks.now(), session: this.id, kind, message });
  }

  #end(err: VfioError | undefined, reason: string): void {
    if (this.#ending) return;
    this.#ending = true;
    if (err !== undefined) this.#event("error", `${reason}: ${err.message}`);
    for (const ch of this.#channels) for (const r of ch.readers) r.stop();
    const deadline = Date.now() + FLUSH_WAIT_MS;
    const step = (): void => {
      const queued = this.#channels.some((ch) => ch.writers.some((w) => w.queuedBytes > 0));
      if (queued && Date.now() < deadline) {
        setTimeout(step, 5).unref();
        return;
      }
      for (const ch of this.#channels) {
        for (const w of ch.writers) w.close();
        for (const s of ch.sockets) s.close();
      }
      this.#done = true;
      this.#event("close", err === undefined ? reason : `${reason} (error)`);
      this.#hooks.closed(this);
    };
    setImmediate(step);
  }
}
