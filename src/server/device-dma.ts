import { VfioError } from "../errors.js";
import type { DeviceDma, DmaAccessOptions, DmaSegment } from "./device.js";
import type { DmaController } from "./dma.js";

/**
 * A device DMA'd while the client had bus mastering off (PCI_COMMAND_MASTER clear). On
 * a real bus the function may not issue the request at all; the IOMMU-fault analog
 * (EFAULT) is what the device sees, as it sees for an unmapped IOVA.
 */
export class BusMasterDisabledError extends VfioError {
  constructor(access: "read" | "write" | "view", iova: bigint | number, length: number) {
    super(
      "EFAULT",
      `DMA ${access} of ${length} bytes at iova 0x${iova.toString(16)} refused: ` +
        "bus mastering is disabled (PCI_COMMAND_MASTER is clear)",
    );
    this.name = "BusMasterDisabledError";
  }
}

export interface DmaFacadeOptions {
  /** PCI_COMMAND_MASTER, read at every access. */
  readonly busMaster: () => boolean;
  /** False while the device is stopped for migration: DMA is refused (EBUSY). */
  readonly running: () => boolean;
  /** Reports a refused access (the device's log). */
  readonly onFault: (err: VfioError) => void;
}

/**
 * The DMA engine as device code gets it: the IOMMU-checked accesses of the
 * DmaController behind a bus-master check, and nothing else. The controller's
 * attach/detach/map/unmap are the session's business, and the facade holds it in a
 * closure, so device code has no property to reach it through.
 */
export function deviceDmaFacade(dma: DmaController, o: DmaFacadeOptions): DeviceDma {
  let refused = 0;
  const check = (access: "read" | "write" | "view", iova: bigint | number, length: number) => {
    if (!o.running()) {
      throw new VfioError(
        "EBUSY",
        `DMA ${access} of ${length} bytes at iova 0x${iova.toString(16)} refused: ` +
          "the device is stopped for migration",
      );
    }
    if (o.busMaster()) return;
    refused++;
    const err = new BusMasterDisabledError(access, iova, length);
    o.onFault(err);
    throw err;
  };
  return Object.freeze({
    async read(
      iova: bigint | number,
      length: number,
      options?: DmaAccessOptions,
    ): Promise<Uint8Array> {
      check("read", iova, length);
      return dma.read(iova, length, options);
    },
    async write(iova: bigint | number, data: Uint8Array, options?: DmaAccessOptions) {
      check("write", iova, data.byteLength);
      return dma.write(iova, data, options);
    },
    async readSegments(
      segments: readonly DmaSegment[],
      options?: DmaAccessOptions,
    ): Promise<Uint8Array> {
      check("read", segments[0]?.iova ?? 0n, segments.length);
      return dma.readSegments(segments, options);
    },
    async writeSegments(
      segments: readonly DmaSegment[],
      data: Uint8Array,
      options?: DmaAccessOptions,
    ): Promise<void> {
      check("write", segments[0]?.iova ?? 0n, data.byteLength);
      return dma.writeSegments(segments, data, options);
    },
    view(iova: bigint | number, length: number, access?: "read" | "write" | "readwrite") {
      check("view", iova, length);
      return dma.view(iova, length, access);
    },
    windows: () => dma.windows(),
    get faults() {
      return dma.faults + refused;
    },
  });
}
