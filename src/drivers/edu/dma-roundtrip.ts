import { crc32 } from "node:zlib";
import { type Container, lowestFreeIova } from "../../client/index.js";
import { VfioError } from "../../errors.js";
import type { EduDriver } from "./driver.js";
import { DMA_ADDR_LIMIT, DMA_BUF_SIZE } from "./regs.js";

/**
 * How the device reaches driver memory: "fd" maps a container buffer (a memfd the
 * device mmaps, so it copies directly); "message" maps plain memory without an fd, so
 * every device access becomes a DMA_READ/DMA_WRITE message served by the container.
 */
export type EduDmaPath = "fd" | "message";

export interface DmaRoundTrip {
  readonly path: EduDmaPath;
  readonly bytes: number;
  /** CRC-32 of what the driver sent to the device (RAM → device buffer). */
  readonly sentCrc32: number;
  /** CRC-32 of what came back (device buffer → a zeroed RAM area). */
  readonly returnedCrc32: number;
  /** The returned bytes equal the sent ones, byte for byte. */
  readonly ok: boolean;
}

/**
 * Sends `data` (at most 4 KiB) to the device buffer by DMA and fetches it back into a
 * separate, zeroed area of RAM, through the chosen path. The mapping exists only for
 * the duration of the call.
 */
export async function dmaRoundTrip(
  driver: EduDriver,
  data: Uint8Array,
  path: EduDmaPath,
  bufferOffset = 0,
): Promise<DmaRoundTrip> {
  const n = data.byteLength;
  if (n === 0 || n > DMA_BUF_SIZE)
    throw new VfioError("EINVAL", `dmaRoundTrip: ${n} bytes is not in 1..4096`);
  const page = Number(driver.container.pageSize);
  const half = Math.ceil(n / page) * page;
  let memory: Uint8Array;
  let iova: bigint;
  let unmap: () => Promise<void>;
  if (path === "fd") {
    const buf = await driver.container.allocateBuffer(2 * half, { name: "edu-dma" });
    memory = buf.bytes;
    iova = buf.iova;
    unmap = () => buf.free();
  } else {
    memory = new Uint8Array(2 * half);
    iova = freeIova(driver.container, BigInt(2 * half), DMA_ADDR_LIMIT);
    const mapping = await driver.container.mapMemory(iova, memory, "rw");
    unmap = () => mapping.unmap();
  }
  try {
    memory.set(data, 0);
    memory.fill(0, half, half + n);
    await driver.dmaToDevice(iova, n, bufferOffset);
    await driver.dmaFromDevice(iova + BigInt(half), n, bufferOffset);
    const back = memory.slice(half, half + n);
    return {
      path,
      bytes: n,
      sentCrc32: crc32(data),
      returnedCrc32: crc32(back),
      ok: Buffer.compare(Buffer.from(back), Buffer.from(data.buffer, data.byteOffset, n)) === 0,
    };
  } finally {
    await unmap();
  }
}

/**
 * The lowest page-aligned IOVA (above page 0) with `size` free bytes below `limit`,
 * for mappings whose memory the driver brings itself.
 */
export function freeIova(container: Container, size: bigint, limit?: bigint): bigint {
  return lowestFreeIova(container.domain, size, limit);
}
