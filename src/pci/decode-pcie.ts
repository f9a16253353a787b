/**
 * Decoding of the PCI Express capability (split from decode-caps.ts for size).
 * Reads a zero-padded copy of config space, so it never reads out of bounds.
 */
import { getU16, getU32 } from "./bytes.js";
import type { CapBase } from "./decode-caps.js";
import {
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVSTA,
  PCI_EXP_DEVSTA2,
  PCI_EXP_FLAGS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA2,
} from "./regs.js";

/** A decoded PCI Express capability. */
export interface DecodedPcie extends CapBase {
  readonly kind: "pcie";
  readonly version: number;
  readonly portType: number;
  readonly portTypeName: string;
  readonly slotImplemented: boolean;
  readonly interruptMessageNumber: number;
  readonly devcap: {
    readonly maxPayloadSupported: number;
    readonly phantomFunctions: number;
    readonly extTag: boolean;
    readonly l0sLatency: number;
    readonly l1Latency: number;
    readonly roleBasedErrorReporting: boolean;
    readonly flr: boolean;
    readonly raw: number;
  };
  readonly devctl: {
    readonly correctableErrors: boolean;
    readonly nonFatalErrors: boolean;
    readonly fatalErrors: boolean;
    readonly unsupportedRequests: boolean;
    readonly relaxedOrdering: boolean;
    readonly maxPayload: number;
    readonly extTag: boolean;
    readonly phantomFunctions: boolean;
    readonly auxPower: boolean;
    readonly noSnoop: boolean;
    readonly maxReadRequest: number;
    readonly raw: number;
  };
  readonly devsta: {
    readonly correctableError: boolean;
    readonly nonFatalError: boolean;
    readonly fatalError: boolean;
    readonly unsupportedRequest: boolean;
    readonly auxPower: boolean;
    readonly transactionsPending: boolean;
    readonly raw: number;
  };
  readonly lnkcap: {
    readonly maxSpeed: string;
    readonly maxWidth: number;
    readonly aspmSupport: number;
    readonly portNumber: number;
    readonly raw: number;
  };
  readonly lnkctl: {
    readonly aspm: number;
    readonly rcb128: boolean;
    readonly commonClock: boolean;
    readonly extendedSynch: boolean;
    readonly raw: number;
  };
  readonly lnksta: {
    readonly speed: string;
    readonly width: number;
    readonly slotClock: boolean;
    readonly raw: number;
  };
  /** Version 2 registers, raw (undefined for version 1). */
  readonly v2:
    | {
        readonly devcap2: number;
        readonly devctl2: number;
        readonly devsta2: number;
        readonly lnkcap2: number;
        readonly lnkctl2: number;
        readonly lnksta2: number;
      }
    | undefined;
}

const PORT_TYPES = new Map<number, string>([
  [0, "Endpoint"],
  [1, "Legacy Endpoint"],
  [4, "Root Port"],
  [5, "Upstream Port"],
  [6, "Downstream Port"],
  [7, "PCIe to PCI/PCI-X Bridge"],
  [8, "PCI/PCI-X to PCIe Bridge"],
  [9, "Root Complex Integrated Endpoint"],
  [10, "Root Complex Event Collector"],
]);

const SPEEDS = ["unknown", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s"];

function speedName(code: number): string {
  return SPEEDS[code] ?? `unknown (${code})`;
}

const bit = (v: number, mask: number) => (v & mask) !== 0;

export function decodePcie(b: Uint8Array, base: CapBase): DecodedPcie {
  const o = base.offset;
  const flags = getU16(b, o + PCI_EXP_FLAGS);
  const devcap = getU32(b, o + PCI_EXP_DEVCAP);
  const devctl = getU16(b, o + PCI_EXP_DEVCTL);
  const devsta = getU16(b, o + PCI_EXP_DEVSTA);
  const lnkcap = getU32(b, o + PCI_EXP_LNKCAP);
  const lnkctl = getU16(b, o + PCI_EXP_LNKCTL);
  const lnksta = getU16(b, o + PCI_EXP_LNKSTA);
  const version = flags & 0xf;
  const portType = (flags >> 4) & 0xf;
  return {
    kind: "pcie",
    ...base,
    version,
    portType,
    portTypeName: PORT_TYPES.get(portType) ?? `unknown (${portType})`,
    slotImplemented: bit(flags, 0x100),
    interruptMessageNumber: (flags >> 9) & 0x1f,
    devcap: {
      maxPayloadSupported: 128 << Math.min(5, devcap & 0x7),
      phantomFunctions: (devcap >> 3) & 0x3,
      extTag: bit(devcap, 0x20),
      l0sLatency: (devcap >> 6) & 0x7,
      l1Latency: (devcap >> 9) & 0x7,
      roleBasedErrorReporting: bit(devcap, 0x8000),
      flr: bit(devcap, 0x10000000),
      raw: devcap,
    },
    devctl: {
      correctableErrors: bit(devctl, 0x1),
      nonFatalErrors: bit(devctl, 0x2),
      fatalErrors: bit(devctl, 0x4),
      unsupportedRequests: bit(devctl, 0x8),
      relaxedOrdering: bit(devctl, 0x10),
      maxPayload: 128 << Math.min(5, (devctl >> 5) & 0x7),
      extTag: bit(devctl, 0x100),
      phantomFunctions: bit(devctl, 0x200),
      auxPower: bit(devctl, 0x400),
      noSnoop: bit(devctl, 0x800),
      maxReadRequest: 128 << Math.min(5, (devctl >> 12) & 0x7),
      raw: devctl,
    },
    devsta: {
      correctableError: bit(devsta, 0x1),
      nonFatalError: bit(devsta, 0x2),
      fatalError: bit(devsta, 0x4),
      unsupportedRequest: bit(devsta, 0x8),
      auxPower: bit(devsta, 0x10),
      transactionsPending: bit(devsta, 0x20),
      raw: devsta,
    },
    lnkcap: {
      maxSpeed: speedName(lnkcap & 0xf),
      maxWidth: (lnkcap >> 4) & 0x3f,
      aspmSupport: (lnkcap >> 10) & 0x3,
      portNumber: lnkcap >>> 24,
      raw: lnkcap,
    },
    lnkctl: {
      aspm: lnkctl & 0x3,
      rcb128: bit(lnkctl, 0x8),
      commonClock: bit(lnkctl, 0x40),
      extendedSynch: bit(lnkctl, 0x80),
      raw: lnkctl,
    },
    lnksta: {
      speed: speedName(lnksta & 0xf),
      width: (lnksta >> 4) & 0x3f,
      slotClock: bit(lnksta, 0x1000),
      raw: lnksta,
    },
    v2:
      version >= 2
        ? {
            devcap2: getU32(b, o + PCI_EXP_DEVCAP2),
            devctl2: getU16(b, o + PCI_EXP_DEVCTL2),
            devsta2: getU16(b, o + PCI_EXP_DEVSTA2),
            lnkcap2: getU32(b, o + PCI_EXP_LNKCAP2),
            lnkctl2: getU16(b, o + PCI_EXP_LNKCTL2),
            lnksta2: getU16(b, o + PCI_EXP_LNKSTA2),
          }
        : undefined,
  };
}
