import type { IommuDomain } from "../iommu/index.js";
import type { DmaBacking } from "./dma-mapping.js";

/**
 * A device's read of driver memory (DMA_READ): translated through the IOMMU domain, so
 * an unmapped byte or a window without read permission faults (IommuFaultError,
 * EFAULT) before anything is copied. The windows stay pinned while copying, so an
 * unmap racing with the access waits for it.
 */
export function dmaCopyOut(
  domain: IommuDomain<DmaBacking>,
  iova: bigint,
  length: number,
): Uint8Array {
  const access = domain.acquire(iova, BigInt(length), "read");
  try {
    const out = new Uint8Array(length);
    let pos = 0;
    for (const s of access.segments) {
      const from = Number(s.offset);
      const n = Number(s.length);
      out.set(s.window.value.bytes.subarray(from, from + n), pos);
      pos += n;
    }
    return out;
  } finally {
    access.release();
  }
}

/** A device's write into driver memory (DMA_WRITE), checked like dmaCopyOut. */
export function dmaCopyIn(domain: IommuDomain<DmaBacking>, iova: bigint, data: Uint8Array): void {
  const access = domain.acquire(iova, BigInt(data.byteLength), "write");
  try {
    let pos = 0;
    for (const s of access.segments) {
      const n = Number(s.length);
      s.window.value.bytes.set(data.subarray(pos, pos + n), Number(s.offset));
      pos += n;
    }
  } finally {
    access.release();
  }
}
