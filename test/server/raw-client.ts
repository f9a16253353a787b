import { toLE } from "../../src/le.js";
/**
 * A bare vfio-user client for server tests, built directly on src/protocol and
 * src/transport (deliberately not the client SDK): it sends exactly what a test says,
 * malformed messages included, and serves the server's DMA_READ/DMA_WRITE from
 * buffers the test registers.
 */
import {
  Command,
  type CommandId,
  type DmaRwLayout,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  type ReplyMap,
  type RequestMap,
  type VersionCapabilities,
} from "../../src/protocol/index.js";
import { connectUnix, type StreamSocket, UnixSocket } from "../../src/sys/index.js";
import { Connection, type Frame } from "../../src/transport/index.js";

export interface RawClientOptions {
  /** Capabilities proposed in VERSION (default: write_multiple only). */
  capabilities?: VersionCapabilities;
  dmaRwLayout?: DmaRwLayout;
  /** Skip VERSION (to test what happens before it). */
  skipVersion?: boolean;
}

export interface CallResult<C extends CommandId> {
  reply: ReplyMap[C];
  fds: number[];
}

/** Client memory the server reaches through DMA_READ / DMA_WRITE messages. */
export interface MessageWindow {
  iova: bigint;
  bytes: Uint8Array;
}

export class RawClient {
  readonly conn: Connection;
  readonly layout: DmaRwLayout;
  readonly windows: MessageWindow[] = [];
  /** Server-to-client commands seen, in order (DMA_READ/DMA_WRITE). */
  readonly serverRequests: { command: number; address: bigint; count: number }[] = [];
  /** When set, DMA_READ/DMA_WRITE replies wait until this promise resolves. */
  hold: Promise<void> | undefined;
  negotiated: ReplyMap[typeof Command.VFIO_USER_VERSION] | undefined;
  twinFds: number[] = [];

  private constructor(conn: Connection, layout: DmaRwLayout) {
    this.conn = conn;
    this.layout = layout;
    conn.onRequest((frame) => void this.#serve(frame));
    conn.on("error", () => {});
  }

  static connect(path: string, opts: RawClientOptions = {}): Promise<RawClient> {
    return RawClient.over(connectUnix(path), opts);
  }

  /** A client on an already connected socket (e.g. one end of a socketpair). */
  static async over(socket: StreamSocket, opts: RawClientOptions = {}): Promise<RawClient> {
    const c = new RawClient(new Connection(socket), opts.dmaRwLayout ?? "spec");
    if (!opts.skipVersion) await c.version(opts.capabilities ?? { writeMultiple: true });
    return c;
  }

  async version(capabilities?: VersionCapabilities, major = 0, minor = 1): Promise<void> {
    const r = await this.call(Command.VFIO_USER_VERSION, { major, minor, capabilities });
    this.negotiated = r.reply;
    if (r.reply.capabilities?.twinSocket?.supported && r.fds.length > 0) {
      this.conn.attachTwin(new UnixSocket(r.fds[0]!), "client");
      this.twinFds = r.fds;
    }
  }

  /** One request, its decoded reply and the fds that came with it (ours to close). */
  async call<C extends CommandId>(
    command: C,
    body: RequestMap[C],
    opts: { fds?: readonly number[] } = {},
  ): Promise<CallResult<C>> {
    const bytes = encodeRequest(command, body, { dmaRwLayout: this.layout });
    const f = await this.conn.request(command, bytes, { fds: opts.fds });
    return {
      reply: decodeReply(command, f.body, { numFds: f.fds.length, dmaRwLayout: this.layout }),
      fds: f.fds,
    };
  }

  /** A request with arbitrary body bytes (malformed on purpose); resolves to the reply frame. */
  raw(command: number, body: Uint8Array, fds?: readonly number[]): Promise<Frame> {
    return this.conn.request(command, body, { fds });
  }

  /** A command with NO_REPLY. */
  post<C extends CommandId>(command: C, body: RequestMap[C]): void {
    this.conn.notify(command, encodeRequest(command, body, { dmaRwLayout: this.layout }));
  }

  regionRead(region: number, offset: bigint | number, count: number): Promise<Uint8Array> {
    return this.call(Command.VFIO_USER_REGION_READ, { region, offset: BigInt(offset), count }).then(
      (r) => r.reply.data.slice(),
    );
  }

  async read32(region: number, offset: number): Promise<number> {
    const d = await this.regionRead(region, offset, 4);
    return new DataView(d.buffer, d.byteOffset, 4).getUint32(0, true);
  }

  async regionWrite(region: number, offset: bigint | number, data: Uint8Array): Promise<void> {
    await this.call(Command.VFIO_USER_REGION_WRITE, { region, offset: BigInt(offset), data });
  }

  write32(region: number, offset: number, value: number): Promise<void> {
    return this.regionWrite(region, offset, le(value, 4));
  }

  write16(region: number, offset: number, value: number): Promise<void> {
    return this.regionWrite(region, offset, le(value, 2));
  }

  async read16(region: number, offset: number): Promise<number> {
    const d = await this.regionRead(region, offset, 2);
    return d[0]! | (d[1]! << 8);
  }

  /**
   * Sets PCI_COMMAND_MASTER (config region 7): the device may DMA and send MSI/MSI-X
   * only while it is set, as a driver's pci_set_master() allows.
   */
  async enableBusMaster(): Promise<void> {
    await this.write16(7, 0x04, (await this.read16(7, 0x04)) | 0x4);
  }

  close(): void {
    this.conn.close();
  }

  /** Resolves when the connection has closed (by either side). */
  closed(): Promise<void> {
    if (this.conn.closed) return Promise.resolve();
    return new Promise((r) => this.conn.once("close", () => r()));
  }

  async #serve(frame: Frame): Promise<void> {
    const cmd = frame.header.command;
    try {
      if (cmd === Command.VFIO_USER_DMA_READ) {
        const req = decodeRequest(cmd, frame.body, {
          numFds: frame.fds.length,
          dmaRwLayout: this.layout,
        });
        this.serverRequests.push({ command: cmd, address: req.address, count: req.count });
        if (this.hold) await this.hold;
        const data = this.#span(req.address, req.count).slice();
        this.conn.reply(
          frame,
          encodeReply(cmd, { address: req.address, data }, { dmaRwLayout: this.layout }),
        );
      } else if (cmd === Command.VFIO_USER_DMA_WRITE) {
        const req = decodeRequest(cmd, frame.body, {
          numFds: frame.fds.length,
          dmaRwLayout: this.layout,
        });
        this.serverRequests.push({
          command: cmd,
          address: req.address,
          count: req.data.byteLength,
        });
        if (this.hold) await this.hold;
        this.#span(req.address, req.data.byteLength).set(req.data);
        this.conn.reply(
          frame,
          encodeReply(cmd, { address: req.address, count: req.data.byteLength }),
        );
      } else {
        this.conn.replyError(frame, 22);
      }
    } catch {
      this.conn.replyError(frame, 14);
    }
  }

  #span(iova: bigint, count: number): Uint8Array {
    for (const w of this.windows) {
      if (iova >= w.iova && iova + BigInt(count) <= w.iova + BigInt(w.bytes.byteLength)) {
        const at = Number(iova - w.iova);
        return w.bytes.subarray(at, at + count);
      }
    }
    throw new Error(`no client window at 0x${iova.toString(16)}`);
  }
}

/** `value` as `size` little-endian bytes. */
export const le = toLE;
