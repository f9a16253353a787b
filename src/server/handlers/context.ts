import { hex } from "../../hex.js";
import type { Session, VersionMessage } from "../../protocol/index.js";
import type { DeviceCore } from "../device-core.js";
import type { Logger } from "../logger.js";
import { leValue } from "../regions/handler-call.js";

/** What a command handler works with. */
export interface HandlerContext {
  readonly core: DeviceCore;
  readonly log: Logger;
  readonly verbose: boolean;
  /** The negotiated session (undefined only while handling VERSION). */
  readonly negotiated: Session | undefined;
  /** The fds that came with the message (still the session's). */
  readonly fds: readonly number[];
  /**
   * Take ownership of the message's fds. Fds nobody takes are closed by the session
   * once the handler is done, whether it succeeded or failed.
   */
  takeFds(): number[];
  /** VERSION: negotiate with the client (the session's state, hence here). */
  negotiate(proposal: VersionMessage): Reply;
}

/** A successful reply: body bytes and fds to pass (still ours: the kernel dups them). */
export interface Reply {
  readonly body?: Uint8Array;
  readonly fds?: readonly number[];
  /** The fds are ours to give away: close them once sent (else they stay ours). */
  readonly closeFdsAfterSend?: boolean;
}

/** Hex dump of a small access for verbose logs. */
export function showData(data: Uint8Array): string {
  if (data.byteLength <= 8) return hex(leValue(data), data.byteLength * 2);
  return `${data.byteLength} bytes`;
}
