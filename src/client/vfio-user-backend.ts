import { debuglog } from "node:util";
import { Errno, errnoOf, VfioError } from "../errors.js";
import {
  Command,
  type CommandId,
  commandName,
  DEVICE_FEATURE_SIZE,
  decodeReply,
  decodeRequest,
  dirtyBitmapSize,
  encodeReply,
  encodeRequest,
  type FeatureData,
  featureDataSize,
  type ReplyMap,
  type RequestMap,
  type Session,
  type SetIrqsRequest,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
} from "../protocol/index.js";
import { closeFdQuietly, closeFdsQuietly } from "../sys/index.js";
import type { Connection, Frame } from "../transport/index.js";
import type {
  BackendLimits,
  DeviceBackend,
  DeviceInfo,
  DmaMapRequest,
  DmaRequestHandler,
  IrqInfo,
  IrqSet,
  RegionInfo,
} from "./backend.js";
import { toRegionInfo } from "./region-info-decode.js";

const debug = debuglog("vfio-client");

/** Region-info replies larger than this are refused (capability chains are small). */
const MAX_REGION_INFO_ARGSZ = 64 * 1024;
/** First REGION_INFO argsz: room for a sparse-mmap capability of a few areas. */
const REGION_INFO_ARGSZ = 256;
/** Chunks of one large region access kept in flight at once. */
const PIPELINE = 8;

export interface VfioUserBackendOptions {
  /** Largest DMA_READ/WRITE count we told the server we accept. */
  ourMaxDataXferSize: number;
  /** DeviceBackend.kind; default "vfio-user" ("loopback" for the in-process pair). */
  kind?: string;
  /** Runs after the connection is closed by close() (e.g. stop an in-process server). */
  onClose?: () => Promise<void>;
}

/**
 * DeviceBackend over a vfio-user connection. The server is untrusted: every reply is
 * decoded by src/protocol (sizes, argsz, fds) and then matched against the request it
 * answers (index, offset, region, count, DMA window), and anything that does not match
 * fails that request with EPROTO instead of reaching the driver.
 */
export class VfioUserBackend implements DeviceBackend {
  readonly kind: string;
  readonly limits: BackendLimits;
  readonly session: Session;
  readonly #conn: Connection;
  readonly #ourXfer: number;
  #dma: DmaRequestHandler | null = null;
  #onDisconnect: ((err: Error) => void) | null = null;
  #closing = false;
  readonly #onClose: (() => Promise<void>) | undefined;

  constructor(conn: Connection, session: Session, options: VfioUserBackendOptions) {
    this.kind = options.kind ?? "vfio-user";
    this.#onClose = options.onClose;
    this.#conn = conn;
    this.session = session;
    this.#ourXfer = options.ourMaxDataXferSize;
    this.limits = {
      maxDataXferSize: session.maxDataXferSize,
      maxMsgFds: session.maxMsgFds,
      maxDmaMaps: session.maxDmaMaps,
      pgsizes: session.pgsizes,
    };
    conn.onRequest((frame) => this.#serve(frame));
    conn.on("close", (err) => {
      if (this.#closing) return;
      const e = new VfioError(
        err?.errno ?? "ECONNRESET",
        `vfio-user server disconnected${err ? `: ${err.message}` : ""}`,
        { cause: err },
      );
      this.#onDisconnect?.(e);
    });
  }

  get connection(): Connection {
    return this.#conn;
  }

  async getInfo(): Promise<DeviceInfo> {
    const r = await this.#call(Command.VFIO_USER_DEVICE_GET_INFO, { argsz: 16 });
    return { flags: r.body.flags, numRegions: r.body.numRegions, numIrqs: r.body.numIrqs };
  }

  async getRegionInfo(index: number): Promise<RegionInfo> {
    let argsz = REGION_INFO_ARGSZ;
    for (let attempt = 0; ; attempt++) {
      const r = await this.#call(Command.VFIO_USER_DEVICE_GET_REGION_INFO, { argsz, index }, true);
      const fd = r.fds[0] ?? -1;
      try {
        if (r.body.index !== index)
          this.#bad("DEVICE_GET_REGION_INFO", `asked for region ${index}, got ${r.body.index}`);
        if (r.body.argsz > argsz) {
          // Only the fixed part came: retry once with the size the server asked for.
          if (attempt > 0 || r.body.argsz > MAX_REGION_INFO_ARGSZ) {
            this.#bad("DEVICE_GET_REGION_INFO", `region ${index} info needs argsz ${r.body.argsz}`);
          }
          argsz = r.body.argsz;
          if (fd >= 0) closeFdQuietly(fd);
          continue;
        }
        return toRegionInfo(r.body, fd);
      } catch (err) {
        if (fd >= 0) closeFdQuietly(fd);
        throw err;
      }
    }
  }

  async regionRead(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    if (length > 0 && length <= this.limits.maxDataXferSize) {
      // One message: no chunk bookkeeping, and the reply's bytes are copied once.
      return (await this.#readChunk(index, offset, length)).slice();
    }
    return this.#readChunked(index, offset, length);
  }

  async #readChunked(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.#chunked(length, async (pos, n) => {
      out.set(await this.#readChunk(index, offset + BigInt(pos), n), pos);
    });
    return out;
  }

  /** One REGION_READ, checked against what was asked; the data is a view into the reply. */
  async #readChunk(index: number, at: bigint, n: number): Promise<Uint8Array> {
    const r = await this.#call(Command.VFIO_USER_REGION_READ, {
      offset: at,
      region: index,
      count: n,
    });
    if (r.body.region !== index || r.body.offset !== at || r.body.data.byteLength !== n) {
      this.#bad(
        "REGION_READ",
        `asked for ${n} bytes of region ${index} at 0x${at.toString(16)}, got ` +
          `${r.body.data.byteLength} bytes of region ${r.body.region} at 0x${r.body.offset.toString(16)}`,
      );
    }
    return r.body.data;
  }

  async regionWrite(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    if (data.byteLength > 0 && data.byteLength <= this.limits.maxDataXferSize) {
      await this.#writeChunk(index, offset, data);
      return;
    }
    await this.#chunked(data.byteLength, (pos, n) =>
      this.#writeChunk(index, offset + BigInt(pos), data.subarray(pos, pos + n)),
    );
  }

  async #writeChunk(index: number, at: bigint, data: Uint8Array): Promise<void> {
    const n = data.byteLength;
    const r = await this.#call(Command.VFIO_USER_REGION_WRITE, {
      offset: at,
      region: index,
      data,
    });
    if (r.body.region !== index || r.body.offset !== at || r.body.count !== n) {
      this.#bad(
        "REGION_WRITE",
        `wrote ${n} bytes of region ${index} at 0x${at.toString(16)}, the reply acknowledges ` +
          `${r.body.count} bytes of region ${r.body.region} at 0x${r.body.offset.toString(16)}`,
      );
    }
  }

  /** REGION_WRITE with NO_REPLY, one message per max_data_xfer_size chunk. */
  regionWritePosted(index: number, offset: bigint, data: Uint8Array): void {
    const step = this.limits.maxDataXferSize;
    const length = data.byteLength;
    for (let pos = 0; pos < length; pos += step) {
      const n = Math.min(step, length - pos);
      const body = encodeRequest(Command.VFIO_USER_REGION_WRITE, {
        offset: offset + BigInt(pos),
        region: index,
        data: n === length ? data : data.subarray(pos, pos + n),
      });
      try {
        this.#conn.notify(Command.VFIO_USER_REGION_WRITE, body);
      } catch (err) {
        throw this.#explain(Command.VFIO_USER_REGION_WRITE, err);
      }
    }
  }

  async getIrqInfo(index: number): Promise<IrqInfo> {
    const r = await this.#call(Command.VFIO_USER_DEVICE_GET_IRQ_INFO, { argsz: 16, index });
    if (r.body.index !== index)
      this.#bad("DEVICE_GET_IRQ_INFO", `asked for index ${index}, got ${r.body.index}`);
    return { index: r.body.index, flags: r.body.flags, count: r.body.count };
  }

  async setIrqs(set: IrqSet): Promise<void> {
    const fds = set.fds ?? [];
    if (fds.length > this.limits.maxMsgFds) {
      throw new VfioError(
        "E2BIG",
        `DEVICE_SET_IRQS with ${fds.length} eventfds exceeds the server's max_msg_fds ${this.limits.maxMsgFds}`,
      );
    }
    const req: SetIrqsRequest = {
      argsz: 20 + (set.bools?.byteLength ?? 0),
      action: actionOf(set.flags),
      data: dataOf(set.flags),
      index: set.index,
      start: set.start,
      count: set.count,
    };
    if (set.bools !== undefined) req.bools = set.bools;
    await this.#call(Command.VFIO_USER_DEVICE_SET_IRQS, req, false, fds);
  }

  async reset(): Promise<void> {
    await this.#call(Command.VFIO_USER_DEVICE_RESET, {});
  }

  async dmaMap(req: DmaMapRequest): Promise<void> {
    // A server that takes no fds still gets the window: it then uses DMA_READ/WRITE.
    const withFd = req.fd >= 0 && this.limits.maxMsgFds >= 1;
    const flags =
      (req.read ? VFIO_DMA_MAP_FLAG_READ : 0) | (req.write ? VFIO_DMA_MAP_FLAG_WRITE : 0);
    await this.#call(
      Command.VFIO_USER_DMA_MAP,
      { argsz: 32, flags, offset: withFd ? req.fdOffset : 0n, address: req.iova, size: req.size },
      false,
      withFd ? [req.fd] : [],
    );
  }

  async dmaUnmap(iova: bigint, size: bigint): Promise<void> {
    const r = await this.#call(Command.VFIO_USER_DMA_UNMAP, {
      argsz: 24,
      flags: 0,
      address: iova,
      size,
    });
    if (r.body.address !== iova || r.body.size !== size) {
      this.#bad(
        "DMA_UNMAP",
        `unmapped [0x${iova.toString(16)}, +0x${size.toString(16)}), the reply names ` +
          `[0x${r.body.address.toString(16)}, +0x${r.body.size.toString(16)})`,
      );
    }
  }

  async deviceFeature(
    feature: number,
    ops: number,
    data: FeatureData,
    replyRoom = 0,
  ): Promise<FeatureData> {
    const argsz = DEVICE_FEATURE_SIZE + Math.max(featureDataSize(data), replyRoom);
    const r = await this.#call(Command.VFIO_USER_DEVICE_FEATURE, { argsz, feature, ops, data });
    if (r.body.argsz > argsz) {
      this.#bad("DEVICE_FEATURE", `a ${r.body.argsz}-byte reply does not fit argsz ${argsz}`);
    }
    return r.body.data;
  }

  async migDataRead(size: number): Promise<Uint8Array> {
    const r = await this.#call(Command.VFIO_USER_MIG_DATA_READ, { argsz: 8 + size, size });
    if (r.body.data.byteLength > size) {
      this.#bad("MIG_DATA_READ", `${r.body.data.byteLength} bytes for a read of ${size}`);
    }
    return r.body.data;
  }

  async migDataWrite(data: Uint8Array): Promise<void> {
    await this.#call(Command.VFIO_USER_MIG_DATA_WRITE, { argsz: 8 + data.byteLength, data });
  }

  async dmaUnmapDirty(iova: bigint, size: bigint, pageSize: bigint): Promise<Uint8Array> {
    const bytes = Number(dirtyBitmapSize(size, pageSize));
    const r = await this.#call(Command.VFIO_USER_DMA_UNMAP, {
      argsz: 40 + bytes,
      flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
      address: iova,
      size,
      bitmap: { pgsize: pageSize, size: bytes },
    });
    if (r.body.bitmap === undefined || r.body.bitmap.data.byteLength !== bytes) {
      this.#bad("DMA_UNMAP", `no ${bytes}-byte dirty bitmap in the reply`);
    }
    return r.body.bitmap.data;
  }

  setDmaHandler(handler: DmaRequestHandler | null): void {
    this.#dma = handler;
  }

  onDisconnect(cb: ((err: Error) => void) | null): void {
    this.#onDisconnect = cb;
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#conn.close();
    await this.#onClose?.();
  }

  /** One request; the reply is decoded and its fds handed over only when `keepFds`. */
  async #call<C extends CommandId>(
    command: C,
    body: RequestMap[C],
    keepFds = false,
    fds: readonly number[] = [],
  ): Promise<{ body: ReplyMap[C]; fds: number[] }> {
    const bytes = encodeRequest(command, body);
    let frame: Frame;
    try {
      frame = await this.#conn.request(command, bytes, fds.length > 0 ? { fds } : undefined);
    } catch (err) {
      throw this.#explain(command, err);
    }
    try {
      const decoded = decodeReply(command, frame.body, { numFds: frame.fds.length });
      if (!keepFds && frame.fds.length > 0)
        this.#bad(commandName(command), `${frame.fds.length} unexpected fds`);
      return { body: decoded, fds: keepFds ? frame.fds : [] };
    } catch (err) {
      closeFdsQuietly(frame.fds);
      if (err instanceof VfioError && err.code === "EPROTO") throw err;
      throw new VfioError(
        "EPROTO",
        `bad ${commandName(command)} reply from the vfio-user server: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  #explain(command: number, err: unknown): Error {
    if (!(err instanceof VfioError)) return err as Error;
    if (this.#conn.closed && !this.#closing && err.code !== "EPROTO") {
      return new VfioError(
        err.errno,
        `${commandName(command)} failed: the vfio-user server disconnected (${err.message})`,
        {
          cause: err,
        },
      );
    }
    return err;
  }

  /** Runs `fn` over max_data_xfer_size chunks of `length`, a few in flight at once. */
  async #chunked(length: number, fn: (pos: number, n: number) => Promise<void>): Promise<void> {
    const step = this.limits.maxDataXferSize;
    const starts: number[] = [];
    for (let pos = 0; pos < length; pos += step) starts.push(pos);
    for (let i = 0; i < starts.length; i += PIPELINE) {
      await Promise.all(
        starts.slice(i, i + PIPELINE).map((pos) => fn(pos, Math.min(step, length - pos))),
      );
    }
  }

  #bad(what: string, message: string): never {
    throw new VfioError("EPROTO", `bad ${what} reply from the vfio-user server: ${message}`);
  }

  /** The server's commands: DMA_READ and DMA_WRITE into memory mapped without an fd. */
  #serve(frame: Frame): void {
    closeFdsQuietly(frame.fds);
    const cmd = frame.header.command;
    try {
      if (cmd === Command.VFIO_USER_DMA_READ) {
        const req = decodeRequest(cmd, frame.body, {
          numFds: frame.fds.length,
          maxDataXferSize: this.#ourXfer,
        });
        const data = this.#handler().dmaRead(req.address, req.count);
        this.#conn.reply(frame, encodeReply(cmd, { address: req.address, data }));
      } else if (cmd === Command.VFIO_USER_DMA_WRITE) {
        const req = decodeRequest(cmd, frame.body, {
          numFds: frame.fds.length,
          maxDataXferSize: this.#ourXfer,
        });
        this.#handler().dmaWrite(req.address, req.data);
        this.#conn.reply(
          frame,
          encodeReply(cmd, { address: req.address, count: req.data.byteLength }),
        );
      } else {
        this.#conn.replyError(frame, Errno.EINVAL);
        debug("server sent %s, which a client does not serve", commandName(cmd));
      }
    } catch (err) {
      debug("%s from the server failed: %s", commandName(cmd), (err as Error).message);
      this.#conn.replyError(frame, errnoOf(err));
    }
  }

  #handler(): DmaRequestHandler {
    if (this.#dma === null) {
      throw new VfioError("EFAULT", "no DMA mappings: the device is not attached to a container");
    }
    return this.#dma;
  }
}

function actionOf(flags: number): SetIrqsRequest["action"] {
  if (flags & VFIO_IRQ_SET_ACTION_MASK) return "mask";
  if (flags & VFIO_IRQ_SET_ACTION_UNMASK) return "unmask";
  if (flags & VFIO_IRQ_SET_ACTION_TRIGGER) return "trigger";
  throw new VfioError("EINVAL", `SET_IRQS flags 0x${flags.toString(16)} name no action`);
}

function dataOf(flags: number): SetIrqsRequest["data"] {
  if (flags & VFIO_IRQ_SET_DATA_NONE) return "none";
  if (flags & VFIO_IRQ_SET_DATA_BOOL) return "bool";
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) return "eventfd";
  throw new VfioError("EINVAL", `SET_IRQS flags 0x${flags.toString(16)} name no data type`);
}
