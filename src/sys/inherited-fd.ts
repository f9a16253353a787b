/**
 * Adopts a socket fd inherited from the process that started us (the vfio-user backend
 * convention's `--fd=FDNUM`): either a listening socket, to accept clients on, or one
 * already connected to the client.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { Socket } from "node:net";
import { UnixListener } from "./listener.js";
import { native } from "./native.js";
import { UnixSocket } from "./socket.js";
import { type SysError, sysError } from "./sys-error.js";

/** A socket inherited as `--fd N`: listening, or connected to the client. */
export type InheritedSocket =
  | { readonly kind: "listening"; readonly listener: UnixListener }
  | { readonly kind: "connected"; readonly socket: UnixSocket };

/** __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket listens. */
const SO_ACCEPTCON = 0x10000;
const SOCK_STREAM = 1;

function notSocket(fd: number, why: string): SysError {
  return sysError("ENOTSOCK", "adopt", `fd ${fd} is not a UNIX stream socket: ${why}`);
}

/** Listening or connected, from the kernel's table of UNIX sockets (matched by inode). */
function socketState(fd: number): "listening" | "connected" {
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    throw sysError("EBADF", "adopt", `fd ${fd} is not open in this process`);
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (inode === undefined) throw notSocket(fd, `it is ${link}`);
  for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[6] !== inode) continue;
    if (Number.parseInt(f[4] ?? "", 16) !== SOCK_STREAM) throw notSocket(fd, "not SOCK_STREAM");
    return (Number.parseInt(f[3] ?? "0", 16) & SO_ACCEPTCON) !== 0 ? "listening" : "connected";
  }
  throw notSocket(fd, "not an AF_UNIX socket");
}

/**
 * Our socket code needs O_NONBLOCK (the accept loop runs until EAGAIN), and an inherited
 * fd may be blocking. The addon has no fcntl, but libuv sets O_NONBLOCK on the open file
 * description when it opens a pipe handle: we let it, on a dup that Node then closes, so
 * the fd we keep shares the now non-blocking description. readable:false keeps Node from
 * reading the client's first bytes.
 */
function makeNonBlocking(fd: number): void {
  const addon = native();
  const dup = addon.dup(fd);
  const s = new Socket({ fd: dup, readable: false, writable: false });
  s.destroy();
}

/** Takes ownership of the inherited socket `fd`. */
export function adoptInheritedSocket(fd: number): InheritedSocket {
  if (!Number.isInteger(fd) || fd < 0) {
    throw sysError("EBADF", "adopt", `--fd needs a file descriptor number, got ${fd}`);
  }
  const state = socketState(fd);
  makeNonBlocking(fd);
  if (state === "connected") return { kind: "connected", socket: new UnixSocket(fd) };
  // No socket file of ours: the listener must never unlink one (dev/ino match nothing).
  return { kind: "listening", listener: new UnixListener(fd, `fd ${fd}`, -1, -1) };
}
