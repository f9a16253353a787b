import type { ErrnoName } from "../errors.js";
import { Errno } from "../errors.js";
import {
  DEFAULT_MAX_BITMAP_SIZE,
  DEFAULT_MAX_DATA_XFER_SIZE,
  DEFAULT_MAX_DMA_MAPS,
  DEFAULT_MAX_MSG_FDS,
  DEFAULT_MIGRATION_PGSIZE,
  DEFAULT_PGSIZES,
} from "./constants.js";
import type { VersionCapabilities } from "./messages/capabilities.js";
import type { VersionMessage } from "./messages/version.js";

/** Capabilities with the spec defaults filled in. */
export interface ResolvedCapabilities {
  maxMsgFds: number;
  maxDataXferSize: number;
  maxDmaMaps: number;
  pgsizes: bigint;
  /** Absent when the sender did not name migration. */
  migration?: { pgsize: bigint; maxBitmapSize: number };
  twinSocket: boolean;
  twinSocketFdIndex?: number;
  writeMultiple: boolean;
}

/** What both ends use after the handshake: limits are the smaller of the two sides'. */
export interface Session extends ResolvedCapabilities {
  major: number;
  minor: number;
}

/** A capability a server may require of its clients. */
export type RequiredCapability = "twin_socket" | "migration" | "write_multiple";

/** The server's side of the handshake. */
export interface VersionPolicy {
  major: number;
  /** Highest minor we support (we support all lower ones too, as the spec demands). */
  minor: number;
  /**
   * Our capabilities; absent fields are the spec defaults. `twinSocket.supported` means we
   * can offer twin-socket mode; `twinSocket.fdIndex` is where we will put its fd (default 0).
   */
  capabilities: VersionCapabilities;
  /** Capabilities without which we close the connection. */
  required?: readonly RequiredCapability[];
}

/** Why a VERSION handshake failed: the errno to answer and a reason. */
export type NegotiationFailure = { ok: false; errno: number; code: ErrnoName; reason: string };

/** The server's outcome of a VERSION handshake: the reply and session, or a failure. */
export type ServerNegotiation =
  | {
      ok: true;
      /** The VERSION reply to send (with the twin socket fd at fdIndex if session.twinSocket). */
      reply: VersionMessage;
      session: Session;
    }
  | NegotiationFailure;

/** The client's outcome of a VERSION handshake: the session, or a failure. */
export type ClientNegotiation = { ok: true; session: Session } | NegotiationFailure;

function failure(code: ErrnoName, reason: string): NegotiationFailure {
  return { ok: false, errno: Errno[code], code, reason };
}

/** Apply the spec defaults to a (possibly absent) capabilities object. */
export function resolveCapabilities(caps: VersionCapabilities = {}): ResolvedCapabilities {
  const r: ResolvedCapabilities = {
    maxMsgFds: caps.maxMsgFds ?? DEFAULT_MAX_MSG_FDS,
    maxDataXferSize: caps.maxDataXferSize ?? DEFAULT_MAX_DATA_XFER_SIZE,
    maxDmaMaps: caps.maxDmaMaps ?? DEFAULT_MAX_DMA_MAPS,
    pgsizes: caps.pgsizes ?? DEFAULT_PGSIZES,
    twinSocket: caps.twinSocket?.supported === true,
    writeMultiple: caps.writeMultiple === true,
  };
  if (caps.migration) {
    r.migration = {
      pgsize: caps.migration.pgsize ?? DEFAULT_MIGRATION_PGSIZE,
      maxBitmapSize: caps.migration.maxBitmapSize ?? DEFAULT_MAX_BITMAP_SIZE,
    };
  }
  if (caps.twinSocket?.fdIndex !== undefined) r.twinSocketFdIndex = caps.twinSocket.fdIndex;
  return r;
}

function intersectMigration(a: ResolvedCapabilities, b: ResolvedCapabilities) {
  if (!a.migration || !b.migration) return undefined;
  const pgsize = a.migration.pgsize & b.migration.pgsize;
  if (pgsize === 0n) return undefined;
  return { pgsize, maxBitmapSize: Math.min(a.migration.maxBitmapSize, b.migration.maxBitmapSize) };
}

/**
 * Server side of VFIO_USER_VERSION: from our policy and the client's proposal, the reply
 * to send or why to close. Rules (spec "Version"): same major; reply minor = min(ours,
 * proposed); reply capabilities are a subset of the proposed ones. Numeric limits are the
 * smaller of both sides' (a limit the client did not propose is still sent when it differs
 * from the spec default, or the client would assume the default); pgsizes and the
 * migration page sizes are intersected; write_multiple is true only if both say so;
 * twin-socket mode is enabled only if both support it. Unknown capabilities are ignored.
 */
export function negotiateVersion(
  ours: VersionPolicy,
  proposal: VersionMessage,
  numFds = 0,
): ServerNegotiation {
  if (numFds !== 0) return failure("EINVAL", `VERSION request carried ${numFds} fds`);
  if (proposal.major !== ours.major) {
    return failure("EPROTONOSUPPORT", `client major ${proposal.major}, we speak ${ours.major}`);
  }
  const minor = Math.min(ours.minor, proposal.minor);
  const proposed = proposal.capabilities ?? {};
  const p = resolveCapabilities(proposed);
  const o = resolveCapabilities(ours.capabilities);
  const caps: VersionCapabilities = {};

  const maxMsgFds = Math.min(p.maxMsgFds, o.maxMsgFds);
  if (proposed.maxMsgFds !== undefined || maxMsgFds !== DEFAULT_MAX_MSG_FDS) {
    caps.maxMsgFds = maxMsgFds;
  }
  const maxXfer = Math.min(p.maxDataXferSize, o.maxDataXferSize);
  if (proposed.maxDataXferSize !== undefined || maxXfer !== DEFAULT_MAX_DATA_XFER_SIZE) {
    caps.maxDataXferSize = maxXfer;
  }
  const maxDmaMaps = Math.min(p.maxDmaMaps, o.maxDmaMaps);
  if (proposed.maxDmaMaps !== undefined || maxDmaMaps !== DEFAULT_MAX_DMA_MAPS) {
    caps.maxDmaMaps = maxDmaMaps;
  }
  const pgsizes = p.pgsizes & o.pgsizes;
  if (pgsizes === 0n) {
    return failure("EINVAL", `no common DMA page size (client 0x${p.pgsizes.toString(16)})`);
  }
  if (proposed.pgsizes !== undefined || pgsizes !== DEFAULT_PGSIZES) caps.pgsizes = pgsizes;
  const migration = intersectMigration(p, o);
  if (migration) caps.migration = { ...migration };
  const twin = p.twinSocket && o.twinSocket;
  if (twin) caps.twinSocket = { supported: true, fdIndex: o.twinSocketFdIndex ?? 0 };
  if (proposed.writeMultiple !== undefined) caps.writeMultiple = p.writeMultiple && o.writeMultiple;

  const session: Session = { major: ours.major, minor, ...resolveCapabilities(caps) };
  for (const need of ours.required ?? []) {
    const have =
      need === "twin_socket"
        ? session.twinSocket
        : need === "migration"
          ? session.migration !== undefined
          : session.writeMultiple;
    if (!have) return failure("EOPNOTSUPP", `client does not offer required capability ${need}`);
  }
  return { ok: true, reply: { major: ours.major, minor, capabilities: caps }, session };
}

/**
 * Client side: check the server's VERSION reply against what we proposed, given the fds
 * that came with it. Fails when the major differs or the minor is above ours, when no
 * common DMA page size remains, or when twin-socket mode is inconsistent (enabled without
 * our asking, or fd_index missing or not naming a received fd). Limits in the session are
 * the smaller of both sides'; capabilities the server names that we did not propose are
 * tolerated and not used. The caller owns the received fds and must close any that are
 * not session.twinSocketFdIndex.
 */
export function checkVersionReply(
  proposal: VersionMessage,
  reply: VersionMessage,
  numFds: number,
): ClientNegotiation {
  if (reply.major !== proposal.major) {
    return failure("EPROTONOSUPPORT", `server major ${reply.major}, we proposed ${proposal.major}`);
  }
  if (reply.minor > proposal.minor) {
    return failure("EPROTO", `server minor ${reply.minor} above our ${proposal.minor}`);
  }
  const p = resolveCapabilities(proposal.capabilities);
  const r = resolveCapabilities(reply.capabilities);
  const pgsizes = p.pgsizes & r.pgsizes;
  if (pgsizes === 0n) {
    return failure("EINVAL", `no common DMA page size (server 0x${r.pgsizes.toString(16)})`);
  }
  const session: Session = {
    major: reply.major,
    minor: reply.minor,
    maxMsgFds: Math.min(p.maxMsgFds, r.maxMsgFds),
    maxDataXferSize: Math.min(p.maxDataXferSize, r.maxDataXferSize),
    maxDmaMaps: Math.min(p.maxDmaMaps, r.maxDmaMaps),
    pgsizes,
    twinSocket: false,
    writeMultiple: p.writeMultiple && r.writeMultiple,
  };
  const migration = intersectMigration(p, r);
  if (migration) session.migration = migration;
  if (r.twinSocket) {
    if (!p.twinSocket) return failure("EPROTO", "server enabled twin-socket mode unasked");
    const idx = r.twinSocketFdIndex;
    if (idx === undefined || idx >= numFds) {
      return failure("EPROTO", `twin_socket.fd_index ${idx} but ${numFds} fds received`);
    }
    session.twinSocket = true;
    session.twinSocketFdIndex = idx;
  }
  return { ok: true, session };
}
