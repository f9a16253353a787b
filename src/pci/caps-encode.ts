/**
 * Encoders that lay out the initial bytes of each capability the builder
 * supports. Each knows its id, validates its spec, and computes its length;
 * the builder places them and links the list. Next pointers are left 0 here.
 */
import { VfioError } from "../errors.js";
import { setU16, setU32, setU64 } from "./bytes.js";
import {
  PCI_CAP_EXP_ENDPOINT_SIZEOF_V2,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_CAP_MSIX_SIZEOF,
  PCI_CAP_VNDR_LEN,
  PCI_DSN_SERIAL_LO,
  PCI_ERR_COR_MASK,
  PCI_ERR_COR_MASK_DEFAULT,
  PCI_ERR_SIZEOF,
  PCI_ERR_UNC_SEVER_DEFAULT,
  PCI_ERR_UNCOR_SEVER,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_EXT_TAG,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCAP_RBER,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCAP2_COMP_TMOUT_DIS,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCTL_RELAX_EN,
  PCI_EXP_FLAGS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKSTA,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXT_CAP_DSN_SIZEOF,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_VNDR,
  PCI_EXT_CAP_VNDR_HEADER_SIZEOF,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSIX_FLAGS,
  PCI_MSIX_MAX_VECTORS,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_PM_CTRL,
  PCI_PM_CTRL_NO_SOFT_RESET,
  PCI_PM_PMC,
  PCI_VNDR_HEADER,
} from "./regs.js";
import type { CapabilitySpec, ExtCapabilitySpec } from "./spec.js";
import { msiLength } from "./walk.js";

export interface Encoder<S> {
  readonly id: number;
  /** Validates the spec and returns the capability's length in bytes. */
  readonly length: (spec: S) => number;
  /** Writes the capability at `off` (the list header's next field is left 0). */
  readonly write: (b: Uint8Array, off: number, spec: S) => void;
}

function invalid(message: string): never {
  throw new VfioError("EINVAL", message);
}

function checkInt(v: number, lo: number, hi: number, what: string): void {
  if (!Number.isInteger(v) || v < lo || v > hi)
    invalid(`${what} must be an integer in [${lo}, ${hi}], got ${v}`);
}

function log2(v: number): number {
  return 31 - Math.clz32(v);
}

function powerOfTwoIn(v: number, lo: number, hi: number, what: string): void {
  checkInt(v, lo, hi, what);
  if ((v & (v - 1)) !== 0) invalid(`${what} must be a power of two, got ${v}`);
}

type SpecOf<K extends string, U> = U extends { kind: K } ? U : never;
type StdEncoders = { [K in CapabilitySpec["kind"]]: Encoder<SpecOf<K, CapabilitySpec>> };
type ExtEncoders = { [K in ExtCapabilitySpec["kind"]]: Encoder<SpecOf<K, ExtCapabilitySpec>> };

const PM_VERSION_1_2 = 3;
const LINK_WIDTHS = new Set([1, 2, 4, 8, 12, 16, 32]);

export const STANDARD_ENCODERS: StdEncoders = {
  pm: {
    id: PCI_CAP_ID_PM,
    length: (s) => {
      checkInt(s.pmeSupport ?? 0, 0, 0x1f, "PM pmeSupport");
      return 8;
    },
    write: (b, off, s) => {
      setU16(b, off + PCI_PM_PMC, PM_VERSION_1_2 | ((s.pmeSupport ?? 0) << 11));
      setU16(b, off + PCI_PM_CTRL, (s.noSoftReset ?? true) ? PCI_PM_CTRL_NO_SOFT_RESET : 0);
    },
  },
  msi: {
    id: PCI_CAP_ID_MSI,
    length: (s) => {
      powerOfTwoIn(s.vectors, 1, 32, "MSI vectors");
      return msiLength(msiFlags(s.addr64, s.perVectorMask, s.vectors));
    },
    write: (b, off, s) =>
      setU16(b, off + PCI_MSI_FLAGS, msiFlags(s.addr64, s.perVectorMask, s.vectors)),
  },
  msix: {
    id: PCI_CAP_ID_MSIX,
    // Placement against the BARs is validated by the builder, which knows them.
    length: (s) => {
      checkInt(s.tableSize, 1, PCI_MSIX_MAX_VECTORS, "MSI-X tableSize");
      return PCI_CAP_MSIX_SIZEOF;
    },
    write: (b, off, s) => {
      setU16(b, off + PCI_MSIX_FLAGS, s.tableSize - 1);
      setU32(b, off + PCI_MSIX_TABLE, (s.tableOffset | s.tableBar) >>> 0);
      setU32(b, off + PCI_MSIX_PBA, (s.pbaOffset | s.pbaBar) >>> 0);
    },
  },
  pcie: {
    id: PCI_CAP_ID_EXP,
    length: (s) => {
      powerOfTwoIn(s.maxPayloadSupported ?? 128, 128, 4096, "PCIe maxPayloadSupported");
      checkInt(s.linkSpeed ?? 1, 1, 5, "PCIe linkSpeed");
      if (!LINK_WIDTHS.has(s.linkWidth ?? 1))
        invalid(`PCIe linkWidth ${s.linkWidth} is not 1, 2, 4, 8, 12, 16 or 32`);
      return PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
    },
    write: (b, off, s) => {
      const speed = s.linkSpeed ?? 1;
      const width = s.linkWidth ?? 1;
      setU16(b, off + PCI_EXP_FLAGS, 2 | (PCI_EXP_TYPE_ENDPOINT << 4));
      const payload = log2((s.maxPayloadSupported ?? 128) / 128);
      const flr = (s.flr ?? true) ? PCI_EXP_DEVCAP_FLR : 0;
      setU32(
        b,
        off + PCI_EXP_DEVCAP,
        (payload | PCI_EXP_DEVCAP_EXT_TAG | PCI_EXP_DEVCAP_RBER | flr) >>> 0,
      );
      // Reset defaults from the base specification: relaxed ordering and no-snoop
      // enabled, 512-byte max read request, 128-byte max payload.
      setU16(
        b,
        off + PCI_EXP_DEVCTL,
        PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN | (2 << 12),
      );
      setU32(b, off + PCI_EXP_LNKCAP, speed | (width << 4));
      setU16(b, off + PCI_EXP_LNKSTA, speed | (width << 4));
      // Completion timeout range A and the ability to disable it, so DEVCTL2 has real fields.
      setU32(b, off + PCI_EXP_DEVCAP2, 0x1 | PCI_EXP_DEVCAP2_COMP_TMOUT_DIS);
      setU32(b, off + PCI_EXP_LNKCAP2, ((1 << speed) - 1) << 1);
      setU16(b, off + PCI_EXP_LNKCTL2, speed);
    },
  },
  vendor: {
    id: PCI_CAP_ID_VNDR,
    length: (s) => {
      if (s.data.length + 3 > 0xff)
        invalid(`vendor capability data of ${s.data.length} bytes exceeds 252`);
      return s.data.length + 3;
    },
    write: (b, off, s) => {
      b[off + PCI_CAP_VNDR_LEN] = s.data.length + 3;
      b.set(s.data, off + 3);
    },
  },
};

function msiFlags(addr64: boolean | undefined, mask: boolean | undefined, vectors: number): number {
  return (
    (log2(vectors) << 1) | (addr64 ? PCI_MSI_FLAGS_64BIT : 0) | (mask ? PCI_MSI_FLAGS_MASKBIT : 0)
  );
}

function extHeader(b: Uint8Array, off: number, id: number, version: number): void {
  setU32(b, off, id | (version << 16));
}

export const EXTENDED_ENCODERS: ExtEncoders = {
  dsn: {
    id: PCI_EXT_CAP_ID_DSN,
    length: (s) => {
      if (s.serial < 0n || s.serial >= 1n << 64n) invalid("DSN serial must fit in 64 bits");
      return PCI_EXT_CAP_DSN_SIZEOF;
    },
    write: (b, off, s) => {
      extHeader(b, off, PCI_EXT_CAP_ID_DSN, 1);
      setU64(b, off + PCI_DSN_SERIAL_LO, s.serial);
    },
  },
  aer: {
    id: PCI_EXT_CAP_ID_ERR,
    length: () => PCI_ERR_SIZEOF,
    write: (b, off) => {
      extHeader(b, off, PCI_EXT_CAP_ID_ERR, 2);
      setU32(b, off + PCI_ERR_UNCOR_SEVER, PCI_ERR_UNC_SEVER_DEFAULT);
      setU32(b, off + PCI_ERR_COR_MASK, PCI_ERR_COR_MASK_DEFAULT);
    },
  },
  vsec: {
    id: PCI_EXT_CAP_ID_VNDR,
    length: (s) => {
      checkInt(s.vsecId, 0, 0xffff, "VSEC vsecId");
      checkInt(s.vsecRev ?? 0, 0, 0xf, "VSEC vsecRev");
      const length = PCI_EXT_CAP_VNDR_HEADER_SIZEOF + s.data.length;
      if (length > 0xfff) invalid(`VSEC length ${length} exceeds 4095`);
      return length;
    },
    write: (b, off, s) => {
      extHeader(b, off, PCI_EXT_CAP_ID_VNDR, 1);
      const length = PCI_EXT_CAP_VNDR_HEADER_SIZEOF + s.data.length;
      setU32(
        b,
        off + PCI_VNDR_HEADER,
        (s.vsecId | ((s.vsecRev ?? 0) << 16) | (length << 20)) >>> 0,
      );
      b.set(s.data, off + PCI_EXT_CAP_VNDR_HEADER_SIZEOF);
    },
  },
};
