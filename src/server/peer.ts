import type { StreamSocket } from "../sys/types.js";

interface Credentialed {
  peerCredentials?(): { pid: number; uid: number };
}

/** The client's pid and uid (SO_PEERCRED) when the socket can tell. */
export function peerIds(socket: StreamSocket): { pid?: number; uid?: number } {
  try {
    const c = (socket as StreamSocket & Credentialed).peerCredentials?.();
    return c ? { pid: c.pid, uid: c.uid } : {};
  } catch {
    return {};
  }
}

/** How the client is named in logs. */
export function describePeer(socket: StreamSocket): string {
  const ids = peerIds(socket);
  return ids.pid !== undefined ? `client pid ${ids.pid}` : `client fd ${socket.fd}`;
}
