/**
 * Typed decodings of individual capabilities, for lspci-style tools. Each
 * decoder reads a zero-padded copy of config space (see decode.ts), so a
 * truncated or malformed capability yields odd values, never an exception.
 */
import { getU16, getU32, getU64 } from "./bytes.js";
import { type DecodedPcie, decodePcie } from "./decode-pcie.js";
import {
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_DSN_SERIAL_LO,
  PCI_ERR_CAP,
  PCI_ERR_CAP_ECRC_CHKC,
  PCI_ERR_CAP_ECRC_CHKE,
  PCI_ERR_CAP_ECRC_GENC,
  PCI_ERR_CAP_ECRC_GENE,
  PCI_ERR_CAP_FEP_MASK,
  PCI_ERR_COR_MASK,
  PCI_ERR_COR_STATUS,
  PCI_ERR_HEADER_LOG,
  PCI_ERR_UNCOR_MASK,
  PCI_ERR_UNCOR_SEVER,
  PCI_ERR_UNCOR_STATUS,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_VNDR,
  PCI_EXT_CAP_VNDR_HEADER_SIZEOF,
  PCI_PM_CTRL,
  PCI_PM_PMC,
  PCI_VNDR_HEADER,
} from "./regs.js";
import { type MsiState, type MsixState, readMsi, readMsix } from "./state.js";
import type { CapabilityInfo } from "./walk.js";

/** Where a decoded capability sits: its offset, length and next pointer. */
export interface CapBase {
  readonly offset: number;
  readonly length: number;
  /** Next pointer as stored (0 ends the list). */
  readonly next: number;
}

/** A decoded power management capability. */
export interface DecodedPm extends CapBase {
  readonly kind: "pm";
  readonly version: number;
  readonly pmeClock: boolean;
  readonly dsi: boolean;
  readonly auxCurrent: number;
  readonly d1: boolean;
  readonly d2: boolean;
  /** PME_Support bits: D0, D1, D2, D3hot, D3cold. */
  readonly pmeSupport: number;
  readonly powerState: number;
  readonly noSoftReset: boolean;
  readonly pmeEnable: boolean;
  readonly dataSelect: number;
  readonly dataScale: number;
  readonly pmeStatus: boolean;
}

/** A decoded MSI capability. */
export interface DecodedMsi extends CapBase, Omit<MsiState, "offset"> {
  readonly kind: "msi";
}

/** A decoded MSI-X capability. */
export interface DecodedMsix extends CapBase, Omit<MsixState, "offset"> {
  readonly kind: "msix";
}

/** A decoded vendor-specific capability: its payload. */
export interface DecodedVendor extends CapBase {
  readonly kind: "vendor";
  readonly data: Uint8Array;
}

/** A capability the decoder does not know: only its ID. */
export interface DecodedUnknown extends CapBase {
  readonly kind: "unknown";
  readonly id: number;
}

export type { DecodedPcie };

/** A decoded standard capability, told apart by `kind`. */
export type DecodedCapability =
  | DecodedPm
  | DecodedMsi
  | DecodedMsix
  | DecodedPcie
  | DecodedVendor
  | DecodedUnknown;

interface ExtBase extends CapBase {
  readonly version: number;
}

/** A decoded Advanced Error Reporting capability. */
export interface DecodedAer extends ExtBase {
  readonly kind: "aer";
  readonly uncorStatus: number;
  readonly uncorMask: number;
  readonly uncorSeverity: number;
  readonly corStatus: number;
  readonly corMask: number;
  readonly capControl: number;
  readonly firstErrorPointer: number;
  readonly ecrcGenCapable: boolean;
  readonly ecrcGenEnabled: boolean;
  readonly ecrcCheckCapable: boolean;
  readonly ecrcCheckEnabled: boolean;
  readonly headerLog: readonly number[];
}

/** A decoded device serial number capability. */
export interface DecodedDsn extends ExtBase {
  readonly kind: "dsn";
  readonly serial: bigint;
}

/** A decoded vendor-specific extended capability. */
export interface DecodedVsec extends ExtBase {
  readonly kind: "vsec";
  readonly vsecId: number;
  readonly vsecRev: number;
  readonly vsecLength: number;
  readonly data: Uint8Array;
}

/** An extended capability the decoder does not know: only its ID. */
export interface DecodedExtUnknown extends ExtBase {
  readonly kind: "unknown";
  readonly id: number;
}

/** A decoded extended capability, told apart by `kind`. */
export type DecodedExtCapability = DecodedAer | DecodedDsn | DecodedVsec | DecodedExtUnknown;

const bit = (v: number, mask: number) => (v & mask) !== 0;

type StdDecoder = (b: Uint8Array, base: CapBase) => DecodedCapability;

function decodePm(b: Uint8Array, base: CapBase): DecodedPm {
  const pmc = getU16(b, base.offset + PCI_PM_PMC);
  const csr = getU16(b, base.offset + PCI_PM_CTRL);
  return {
    kind: "pm",
    ...base,
    version: pmc & 0x7,
    pmeClock: bit(pmc, 0x8),
    dsi: bit(pmc, 0x20),
    auxCurrent: (pmc >> 6) & 0x7,
    d1: bit(pmc, 0x200),
    d2: bit(pmc, 0x400),
    pmeSupport: pmc >> 11,
    powerState: csr & 0x3,
    noSoftReset: bit(csr, 0x8),
    pmeEnable: bit(csr, 0x100),
    dataSelect: (csr >> 9) & 0xf,
    dataScale: (csr >> 13) & 0x3,
    pmeStatus: bit(csr, 0x8000),
  };
}

const STANDARD_DECODERS = new Map<number, StdDecoder>([
  [PCI_CAP_ID_PM, decodePm],
  [
    PCI_CAP_ID_MSI,
    (b, base) => {
      const { offset: _o, ...s } = readMsi(b, base.offset);
      return { kind: "msi", ...s, ...base };
    },
  ],
  [
    PCI_CAP_ID_MSIX,
    (b, base) => {
      const { offset: _o, ...s } = readMsix(b, base.offset);
      return { kind: "msix", ...s, ...base };
    },
  ],
  [PCI_CAP_ID_EXP, decodePcie],
  [
    PCI_CAP_ID_VNDR,
    (b, base) => ({
      kind: "vendor",
      ...base,
      data: b.slice(base.offset + 3, base.offset + base.length),
    }),
  ],
]);

/** Decodes one standard capability found by the walk. `b` must be zero-padded past 4 KiB. */
export function decodeStandardCapability(b: Uint8Array, cap: CapabilityInfo): DecodedCapability {
  const base: CapBase = { offset: cap.offset, length: cap.length, next: b[cap.offset + 1]! & 0xfc };
  const decoder = STANDARD_DECODERS.get(cap.id);
  return decoder ? decoder(b, base) : { kind: "unknown", id: cap.id, ...base };
}

type ExtDecoder = (b: Uint8Array, base: ExtBase) => DecodedExtCapability;

function decodeAer(b: Uint8Array, base: ExtBase): DecodedAer {
  const o = base.offset;
  const cap = getU32(b, o + PCI_ERR_CAP);
  return {
    kind: "aer",
    ...base,
    uncorStatus: getU32(b, o + PCI_ERR_UNCOR_STATUS),
    uncorMask: getU32(b, o + PCI_ERR_UNCOR_MASK),
    uncorSeverity: getU32(b, o + PCI_ERR_UNCOR_SEVER),
    corStatus: getU32(b, o + PCI_ERR_COR_STATUS),
    corMask: getU32(b, o + PCI_ERR_COR_MASK),
    capControl: cap,
    firstErrorPointer: cap & PCI_ERR_CAP_FEP_MASK,
    ecrcGenCapable: bit(cap, PCI_ERR_CAP_ECRC_GENC),
    ecrcGenEnabled: bit(cap, PCI_ERR_CAP_ECRC_GENE),
    ecrcCheckCapable: bit(cap, PCI_ERR_CAP_ECRC_CHKC),
    ecrcCheckEnabled: bit(cap, PCI_ERR_CAP_ECRC_CHKE),
    headerLog: [0, 1, 2, 3].map((i) => getU32(b, o + PCI_ERR_HEADER_LOG + 4 * i)),
  };
}

const EXTENDED_DECODERS = new Map<number, ExtDecoder>([
  [PCI_EXT_CAP_ID_ERR, decodeAer],
  [
    PCI_EXT_CAP_ID_DSN,
    (b, base) => ({ kind: "dsn", ...base, serial: getU64(b, base.offset + PCI_DSN_SERIAL_LO) }),
  ],
  [
    PCI_EXT_CAP_ID_VNDR,
    (b, base) => {
      const h = getU32(b, base.offset + PCI_VNDR_HEADER);
      return {
        kind: "vsec",
        ...base,
        vsecId: h & 0xffff,
        vsecRev: (h >>> 16) & 0xf,
        vsecLength: h >>> 20,
        data: b.slice(base.offset + PCI_EXT_CAP_VNDR_HEADER_SIZEOF, base.offset + base.length),
      };
    },
  ],
]);

/** Decodes one extended capability found by the walk. `b` must be zero-padded past 4 KiB. */
export function decodeExtendedCapability(b: Uint8Array, cap: CapabilityInfo): DecodedExtCapability {
  const base: ExtBase = {
    offset: cap.offset,
    length: cap.length,
    next: (getU32(b, cap.offset) >>> 20) & 0xffc,
    version: cap.version,
  };
  const decoder = EXTENDED_DECODERS.get(cap.id);
  return decoder ? decoder(b, base) : { kind: "unknown", id: cap.id, ...base };
}
