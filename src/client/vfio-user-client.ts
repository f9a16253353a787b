import { VfioError } from "../errors.js";
import {
  Command,
  checkVersionReply,
  decodeReply,
  encodeRequest,
  HEADER_SIZE,
  ProtocolError,
  type Session,
  type VersionMessage,
  VFIO_USER_MAJOR,
  VFIO_USER_MINOR,
} from "../protocol/index.js";
import { closeFdsQuietly, connectUnix, UnixSocket } from "../sys/index.js";
import type { StreamSocket } from "../sys/types.js";
import { Connection, type Frame, MAX_POLL_US } from "../transport/index.js";
import { DeviceHandle } from "./device-handle.js";
import { VfioUserBackend, type VfioUserBackendOptions } from "./vfio-user-backend.js";

/** Options of VfioUserClient.connect: names, timeouts, limits and busy polling. */
export interface VfioUserClientOptions {
  /** Name for messages; default the socket path. */
  name?: string;
  /** fds we accept in one message (max_msg_fds we offer); default 16. */
  maxMsgFds?: number;
  /** Largest DMA_READ/WRITE count we accept (max_data_xfer_size we offer); default 1 MiB. */
  maxDataXferSize?: number;
  /** IOMMU page sizes we offer (pgsizes); default 4 KiB. */
  pgsizes?: bigint;
  /**
   * Offer twin-socket mode (server-to-client commands such as DMA_READ on a second socket,
   * as the spec recommends); default true. A server may decline. Our socket calls never
   * block (MSG_DONTWAIT), so a twin fd the server left in blocking mode is harmless.
   */
  twinSocket?: boolean;
  /** Reply timeout for every request in ms; default 0 (wait forever, as DEVICE_RESET may). */
  requestTimeoutMs?: number;
  /** Timeout of the VERSION handshake in ms; default 10000. */
  handshakeTimeoutMs?: number;
  /**
   * Opt-in busy polling: after each reply, spin up to this many µs for the next one
   * before sleeping in the event loop (see ConnectionOptions.pollUs). Default 0 (off).
   */
  pollUs?: number;
}

/** The smallest max_data_xfer_size we work with: one 64-bit register access. */
const MIN_XFER = 8;
const DEFAULT_OUR_XFER = 1 << 20;
const DEFAULT_OUR_FDS = 16;

/**
 * A vfio-user client: one connection to one server, i.e. one device. connect() runs the
 * VERSION handshake (our capabilities offered, the reply checked with
 * protocol/checkVersionReply), then opens the device. Use `device` for everything else.
 */
export class VfioUserClient {
  readonly session: Session;
  readonly backend: VfioUserBackend;
  readonly device: DeviceHandle;

  private constructor(session: Session, backend: VfioUserBackend, device: DeviceHandle) {
    this.session = session;
    this.backend = backend;
    this.device = device;
  }

  /** Connects to the server listening at `path` and opens its device. */
  static async connect(path: string, options: VfioUserClientOptions = {}): Promise<VfioUserClient> {
    const socket = connectUnix(path);
    return VfioUserClient.fromSocket(socket, { name: path, ...options });
  }

  /** Runs the protocol over an already connected socket (e.g. one end of a socketpair). */
  static async fromSocket(
    socket: StreamSocket,
    options: VfioUserClientOptions = {},
    backendExtras: Pick<VfioUserBackendOptions, "kind" | "onClose"> = {},
  ): Promise<VfioUserClient> {
    const ourXfer = options.maxDataXferSize ?? DEFAULT_OUR_XFER;
    const ourFds = options.maxMsgFds ?? DEFAULT_OUR_FDS;
    const pollUs = options.pollUs ?? 0;
    if (!Number.isInteger(ourXfer) || ourXfer < MIN_XFER) {
      socket.close();
      await backendExtras.onClose?.();
      throw new VfioError("EINVAL", `maxDataXferSize must be an integer >= ${MIN_XFER}`);
    }
    if (!Number.isSafeInteger(pollUs) || pollUs < 0 || pollUs > MAX_POLL_US) {
      socket.close();
      await backendExtras.onClose?.();
      throw new VfioError("EINVAL", `pollUs must be an integer in [0, ${MAX_POLL_US}]`);
    }
    const conn = new Connection(socket, {
      requestTimeoutMs: options.requestTimeoutMs ?? 0,
      maxFds: ourFds,
      maxMessageSize: ourXfer + 4096,
      pollUs,
    });
    let session: Session;
    try {
      session = await handshake(conn, ourXfer, ourFds, options);
    } catch (err) {
      conn.close();
      await backendExtras.onClose?.();
      throw err;
    }
    const backend = new VfioUserBackend(conn, session, {
      ourMaxDataXferSize: ourXfer,
      ...backendExtras,
    });
    try {
      const device = await DeviceHandle.open(backend, { name: options.name ?? "vfio-user device" });
      return new VfioUserClient(session, backend, device);
    } catch (err) {
      await backend.close();
      throw err;
    }
  }

  /** Closes the device (orderly: unmaps, disables interrupts, closes the socket). */
  close(): Promise<void> {
    return this.device.close();
  }
}

async function handshake(
  conn: Connection,
  ourXfer: number,
  ourFds: number,
  options: VfioUserClientOptions,
): Promise<Session> {
  const proposal: VersionMessage = {
    major: VFIO_USER_MAJOR,
    minor: VFIO_USER_MINOR,
    capabilities: {
      maxMsgFds: ourFds,
      maxDataXferSize: ourXfer,
      pgsizes: options.pgsizes ?? 4096n,
      ...((options.twinSocket ?? true) ? { twinSocket: { supported: true } } : {}),
    },
  };
  let frame: Frame;
  try {
    frame = await conn.request(
      Command.VFIO_USER_VERSION,
      encodeRequest(Command.VFIO_USER_VERSION, proposal),
      {
        timeoutMs: options.handshakeTimeoutMs ?? 10_000,
      },
    );
  } catch (err) {
    throw new VfioError(
      (err as VfioError).errno ?? "EIO",
      `vfio-user VERSION handshake failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const fds = frame.fds;
  let twinFd = -1;
  try {
    const reply = decodeReply(Command.VFIO_USER_VERSION, frame.body, { numFds: fds.length });
    const result = checkVersionReply(proposal, reply, fds.length);
    if (!result.ok) throw new VfioError(result.code, `vfio-user server refused: ${result.reason}`);
    const s = result.session;
    if (s.maxDataXferSize < MIN_XFER) {
      throw new VfioError(
        "EPROTO",
        `server max_data_xfer_size ${s.maxDataXferSize} cannot carry an 8-byte access`,
      );
    }
    if (s.twinSocket && s.twinSocketFdIndex !== undefined) twinFd = fds[s.twinSocketFdIndex]!;
    if (twinFd >= 0) conn.attachTwin(new UnixSocket(twinFd), "client");
    // Replies can be as large as the bigger transfer size we will ask for.
    conn.setLimits({ maxMessageSize: Math.max(ourXfer, s.maxDataXferSize) + HEADER_SIZE + 4096 });
    return s;
  } catch (err) {
    if (err instanceof VfioError && !(err instanceof ProtocolError)) throw err;
    throw new VfioError(
      "EPROTO",
      `bad VERSION reply from the vfio-user server: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  } finally {
    closeFdsQuietly(fds.filter((fd) => fd !== twinFd));
  }
}
