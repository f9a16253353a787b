import { Errno, VfioError } from "../errors.js";

/** Linux EDQUOT ("Disk quota exceeded"): a PASID owner is at its quota. */
export const EDQUOT = Errno.EDQUOT;

/** Kind of device access checked against a DMA window's permissions. */
export type DmaAccessKind = "read" | "write";

/** Why a translation failed: no window covers the byte, or the window forbids the access. */
/**
 * Why an access faulted: nothing mapped there, the mapping's permissions, or (on a
 * vfio-user server) the client's memory behind the mapping vanished (its file shrank).
 */
export type IommuFaultReason = "unmapped" | "permission" | "gone";

/**
 * The IOMMU fault analog: a device touched IOVA it may not. Carries the whole request
 * and the first offending address so a server can log or report it precisely.
 */
export class IommuFaultError extends VfioError {
  readonly iova: bigint;
  readonly length: bigint;
  readonly access: DmaAccessKind;
  readonly faultAddress: bigint;
  readonly reason: IommuFaultReason;

  constructor(
    iova: bigint,
    length: bigint,
    access: DmaAccessKind,
    faultAddress: bigint,
    reason: IommuFaultReason,
  ) {
    const why =
      reason === "unmapped"
        ? "no DMA mapping covers it"
        : reason === "gone"
          ? "the memory behind the mapping is gone (the client truncated its file)"
          : `the mapping does not allow ${access === "read" ? "reads" : "writes"}`;
    super(
      "EFAULT",
      `IOMMU fault: ${access} of 0x${length.toString(16)} bytes at iova 0x${iova.toString(16)} ` +
        `fails at 0x${faultAddress.toString(16)}: ${why}`,
    );
    this.name = "IommuFaultError";
    this.iova = iova;
    this.length = length;
    this.access = access;
    this.faultAddress = faultAddress;
    this.reason = reason;
  }
}

/** Hex form used in every iommu error message. */
export { hex } from "../hex.js";
