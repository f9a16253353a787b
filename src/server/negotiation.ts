import { VfioError } from "../errors.js";
import {
  Command,
  type DmaRwLayout,
  encodeReply,
  HEADER_SIZE,
  negotiateVersion,
  resolveCapabilities,
  type Session,
  type VersionMessage,
  type VersionPolicy,
} from "../protocol/index.js";
import { socketPair } from "../sys/index.js";
import type { StreamSocket } from "../sys/types.js";
import { type Connection, DEFAULT_MAX_MESSAGE_SIZE } from "../transport/index.js";
import type { ClientInfo } from "./device.js";
import type { DeviceCore } from "./device-core.js";
import type { DmaFdPolicy } from "./dma.js";
import { dmaRemote } from "./dma-remote.js";
import type { Reply } from "./handlers/context.js";
import type { Logger } from "./logger.js";
import { peerIds } from "./peer.js";

export interface NegotiationConfig {
  readonly core: DeviceCore;
  readonly log: Logger;
  readonly policy: VersionPolicy;
  readonly dmaRwLayout: DmaRwLayout;
  readonly dmaFds: DmaFdPolicy;
  /** Most fds we accept with one message once negotiated. */
  readonly maxMsgFds: number;
}

/**
 * The largest `count` we take in a request: our own limit, not the smaller of ours and
 * the client's that the VERSION reply states. The reply must not offer more than the
 * client proposed (its capabilities are "a subset of those proposed"), but a client
 * that proposes a small value and then sends larger accesses, as libvfio-user's sample
 * client does (it proposes 1 KiB and writes 12 KiB), is within what we can handle, and
 * refusing it would gain nothing. Our own DMA requests keep to the stated value.
 */
export function acceptedXferSize(cfg: NegotiationConfig): number {
  return resolveCapabilities(cfg.policy.capabilities).maxDataXferSize;
}

/**
 * VERSION: agree on the protocol with the client, then set the connection up for what
 * was agreed (twin socket, message and fd limits) and attach the device's DMA to this
 * client. On failure the connection is ended, as the spec has the server close when
 * it cannot serve the proposed version, and the error goes back as the reply.
 */
export function negotiate(
  cfg: NegotiationConfig,
  conn: Connection,
  socket: StreamSocket,
  peer: string,
  proposal: VersionMessage,
  numFds: number,
): { session: Session; reply: Reply } {
  const n = negotiateVersion(cfg.policy, proposal, numFds);
  if (!n.ok) {
    cfg.log.warn(`${peer}: version negotiation failed: ${n.reason}`);
    void conn.end();
    throw new VfioError(n.errno, n.reason);
  }
  const session = n.session;
  let fds: number[] | undefined;
  if (session.twinSocket) {
    const [ours, theirs] = socketPair();
    conn.attachTwin(ours, "server");
    fds = [theirs.detach()];
  }
  conn.setLimits({
    maxMessageSize: Math.max(DEFAULT_MAX_MESSAGE_SIZE, HEADER_SIZE + 64 + acceptedXferSize(cfg)),
    maxFds: cfg.maxMsgFds,
  });
  const core = cfg.core;
  core.dma.attach(
    dmaRemote(conn, cfg.dmaRwLayout, session.maxDataXferSize),
    session.maxDmaMaps,
    session.pgsizes,
    cfg.dmaFds,
  );
  const info: ClientInfo = {
    ...peerIds(socket),
    minor: session.minor,
    maxDataXferSize: session.maxDataXferSize,
    twinSocket: session.twinSocket,
  };
  cfg.log.info(
    `${peer}: negotiated vfio-user ${session.major}.${session.minor} ` +
      `(max_data_xfer_size ${session.maxDataXferSize}, max_dma_maps ${session.maxDmaMaps}, ` +
      `write_multiple ${session.writeMultiple}, twin_socket ${session.twinSocket})`,
  );
  core.clientAttached(info);
  return {
    session,
    reply: {
      body: encodeReply(Command.VFIO_USER_VERSION, n.reply),
      fds,
      closeFdsAfterSend: fds !== undefined,
    },
  };
}
