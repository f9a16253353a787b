/**
 * How a DMA window's memory is reached: our mmap of the fd the client passed with
 * DMA_MAP, or nothing, for a window reached through DMA_READ/DMA_WRITE messages.
 * Which of the two, and the checks that keep an mmap from raising SIGBUS at map time.
 */
import { fstatSync } from "node:fs";
import { VfioError } from "../errors.js";
import { F_SEAL_SHRINK, fdSeals, mmap, munmap, PROT_READ, PROT_WRITE } from "../sys/index.js";

/**
 * What to do with the fd of a DMA_MAP. "map" mmaps any fd (what QEMU, libvfio-user and
 * SPDK expect). "sealed" mmaps only memfds sealed against shrinking and reaches other
 * windows through DMA_READ/DMA_WRITE messages: a client that truncates a file under our
 * mapping would otherwise kill the server with SIGBUS on the next device access.
 */
export type DmaFdPolicy = "map" | "sealed";

/** How one window is backed: our mmap of the client's fd, or nothing (messages). */
export interface Backing {
  readonly buffer: ArrayBuffer | null;
  /** Offset of the window's first byte in `buffer` (the fd offset may not be page aligned). */
  readonly delta: number;
  readonly writable: boolean;
  /**
   * The fd is a memfd sealed against shrinking, so the mapping cannot vanish: plain
   * copies and views are safe. Any other mapping is copied through copyGuarded, which
   * turns the SIGBUS of a truncated file into an IOMMU fault.
   */
  readonly sealed: boolean;
}

export interface DmaMapArgs {
  readonly iova: bigint;
  readonly size: bigint;
  readonly readable: boolean;
  readonly writable: boolean;
  /** Offset into `fd`; ignored without one. */
  readonly offset: bigint;
  /** The fd that came with DMA_MAP, if any. Always consumed (closed) by DmaController.map(). */
  readonly fd: number | undefined;
}

const PAGE = 4096n;
const PAGE_N = 4096;
/** Largest file offset mmap takes (off_t is signed 64-bit). */
const OFF_MAX = (1n << 63n) - 1n;

/** The window's memory for DMA_MAP `a` under `policy` (messages when there is no fd to map). */
export function backingFor(a: DmaMapArgs, policy: DmaFdPolicy): Backing {
  return a.fd === undefined || (policy === "sealed" && !sizeSealed(a.fd))
    ? remoteBacking
    : mapFd(a);
}

/** Releases our mapping of a window's fd, if it has one. */
export function releaseBacking(b: Backing): void {
  if (b.buffer) munmap(b.buffer);
}

const remoteBacking: Backing = Object.freeze({
  buffer: null,
  delta: 0,
  writable: false,
  sealed: false,
});

function sizeSealed(fd: number): boolean {
  return (fdSeals(fd) & F_SEAL_SHRINK) !== 0;
}

function mapFd(a: DmaMapArgs): Backing {
  // Checked before mmap, whose argument errors are RangeErrors (reported as EIO, logged as bugs).
  if (a.size === 0n) throw new VfioError("EINVAL", "DMA_MAP: a window of size 0");
  if (a.offset + a.size > OFF_MAX) {
    throw new VfioError(
      "EINVAL",
      `DMA_MAP: fd offset 0x${a.offset.toString(16)} + size 0x${a.size.toString(16)} exceeds off_t`,
    );
  }
  if (a.size > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new VfioError(
      "EINVAL",
      `DMA_MAP: a window of 0x${a.size.toString(16)} bytes is too large to mmap`,
    );
  }
  // Touching a shared mapping past the end of its file raises SIGBUS, which would kill
  // the server: a window must lie inside the file the client passed. (A client that
  // shrinks the file later can still do that; only sealing would prevent it.)
  const st = fstatSync(a.fd!, { bigint: true });
  if (st.isFile() && a.offset + a.size > st.size) {
    throw new VfioError(
      "EINVAL",
      `DMA_MAP: window [0x${a.offset.toString(16)}, +0x${a.size.toString(16)}) runs past the ${st.size}-byte file`,
    );
  }
  const aligned = (a.offset / PAGE) * PAGE;
  const delta = Number(a.offset - aligned);
  const length = Math.ceil((Number(a.size) + delta) / PAGE_N) * PAGE_N;
  const sealed = sizeSealed(a.fd!);
  try {
    const buffer = mmap(a.fd!, aligned, length, PROT_READ | PROT_WRITE);
    return { buffer, delta, writable: true, sealed };
  } catch (err) {
    // A read-only fd is fine for a window the device may only read.
    if ((err as { code?: string }).code !== "EACCES" || a.writable) throw err;
    return { buffer: mmap(a.fd!, aligned, length, PROT_READ), delta, writable: false, sealed };
  }
}
