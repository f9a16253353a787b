/**
 * Typed loader of the C addon (native/): build/Release/vfio_native.node when compiled here,
 * else the prebuilt prebuilds/<platform>-<arch>/vfio-ts.glibc.node the package ships (node-gyp-build). Loaded lazily so that importing
 * vfio-ts without the addon fails only when a system call is actually needed, with a
 * message that says how to build it.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { SysError } from "./sys-error.js";

/** Opaque handle of a native uv_poll watcher. */
export type NativeWatcher = { readonly __brand: "NativeWatcher" };

/** Readiness bits passed to poll callbacks and pollStart. */
export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;
export const POLL_HANGUP = 4;

export interface NativeAddon {
  setErrorFactory(
    f: (errno: number, code: string, syscall: string, message: string) => Error,
  ): void;
  socket(): number;
  socketpair(): [number, number];
  bind(fd: number, path: string): void;
  listen(fd: number, backlog: number): void;
  /** A new connection's fd, or null when none is pending. */
  accept(fd: number): number | null;
  /** true when connected; false when it would block (listener backlog full). */
  connect(fd: number, path: string): boolean;
  peerCred(fd: number): [pid: number, uid: number, gid: number];
  /** Bytes sent; 0 when it would block. */
  sendmsg(fd: number, chunks: readonly Uint8Array[], fds: readonly number[] | undefined): number;
  /** Bytes received (0 = EOF) or -1 when it would block; fdsOut[0] = count, fdsOut[1..] = fds. */
  recvmsg(fd: number, buf: Uint8Array, maxFds: number, fdsOut: Int32Array): number;
  close(fd: number): void;
  dup(fd: number): number;
  /** flags: bit 0 nonblocking, bit 1 semaphore. Always CLOEXEC. */
  eventfd(initval: number, flags: number): number;
  eventfdRead(fd: number): bigint | null;
  eventfdWrite(fd: number, value: bigint | number): boolean;
  memfdCreate(name: string, allowSealing: boolean): number;
  ftruncate(fd: number, size: bigint | number): void;
  fstatSize(fd: number): bigint;
  memfdSeals(fd: number, add: number): number;
  /** [soft, hard]; null means RLIM_INFINITY. */
  memlockLimit(): [bigint | null, bigint | null];
  mmap(fd: number, offset: bigint | number, length: number, prot: number): ArrayBuffer;
  munmap(ab: ArrayBuffer): boolean;
  ioctl(fd: number, request: number, arg: number | Uint8Array | undefined): number;
  pread(fd: number, buf: Uint8Array, offset: bigint | number): number;
  pwrite(fd: number, buf: Uint8Array, offset: bigint | number): number;
  addressOf(buf: Uint8Array): bigint;
  copyGuarded(dst: Uint8Array, src: Uint8Array): number;
  pollNew(fd: number, cb: (events: number, errno: number) => void): NativeWatcher;
  pollStart(w: NativeWatcher, events: number): void;
  pollRef(w: NativeWatcher, on: boolean): void;
  pollClose(w: NativeWatcher): void;
  /** Busy-waits up to `usec` µs (0..1e6) for fd to be readable or hung up; never blocks. */
  spinUntilReadable(fd: number, usec: number): boolean;
}

let addon: NativeAddon | undefined;

/** node-gyp-build's loader: build/Release, build/Debug, then prebuilds/<platform>-<arch>/. */
type GypBuild = ((dir: string) => unknown) & { path(dir: string): string };

/** The package root: dist/src/sys/native.js (compiled) or src/sys/native.ts (run from source). */
function packageRoot(): string {
  const candidates = ["../../..", "../.."].map((d) =>
    fileURLToPath(new URL(`${d}/`, import.meta.url)),
  );
  return candidates.find((d) => existsSync(`${d}binding.gyp`)) ?? (candidates[0] as string);
}

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  const gypBuild = require("node-gyp-build") as GypBuild;
  let found: string;
  try {
    found = gypBuild.path(root);
  } catch {
    throw new Error(
      `vfio-ts: the native addon is not built and there is no prebuilt one for ${process.platform}-${process.arch} ` +
        `(looked in ${root}build/Release and ${root}prebuilds). ` +
        "Run `npm rebuild vfio-ts` (or `node scripts/build-native.mjs rebuild` in a checkout); it needs a C compiler, make and Python 3.",
    );
  }
  let a: NativeAddon;
  try {
    a = require(found) as NativeAddon;
  } catch (err) {
    throw new Error(
      `vfio-ts: cannot load the native addon ${found}: ${(err as Error).message}. ` +
        "Rebuild it with `npm rebuild vfio-ts` (or `node scripts/build-native.mjs rebuild`).",
      { cause: err },
    );
  }
  a.setErrorFactory((errno, code, syscall, message) => new SysError(errno, code, syscall, message));
  return a;
}

/** The addon, loaded on first use. Throws a clear Error if it was never built. */
export function native(): NativeAddon {
  if (addon === undefined) addon = load();
  return addon;
}
