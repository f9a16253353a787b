/** The test device's DMA engine and DMA_MAP, driven by a raw client (see test-device.ts). */
import {
  Command,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
} from "../../src/protocol/index.js";
import { REG } from "../fixtures/test-device-regs.js";
import { le, type RawClient } from "./raw-client.js";

export const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

/**
 * Runs one DMA op of the test device and returns its status (0, or the errno the
 * access failed with): 1 reads guest memory, 2 writes it, 3 fills a view of it.
 */
export async function dma(c: RawClient, cmd: number, addr: bigint, len: number): Promise<number> {
  await c.regionWrite(0, REG.DMA_ADDR, le(Number(addr & 0xffffffffn), 4));
  await c.regionWrite(0, REG.DMA_ADDR + 4, le(Number(addr >> 32n), 4));
  await c.write32(0, REG.DMA_LEN, len);
  await c.write32(0, REG.DMA_CMD, cmd);
  return c.read32(0, REG.DMA_STATUS);
}

/** DMA_MAP of [iova, iova+size), with an fd or without one. */
export function map(c: RawClient, iova: bigint, size: number, flags = RW, fd?: number) {
  return c.call(
    Command.VFIO_USER_DMA_MAP,
    { argsz: 32, flags, offset: 0n, address: iova, size: BigInt(size) },
    { fds: fd === undefined ? [] : [fd] },
  );
}
