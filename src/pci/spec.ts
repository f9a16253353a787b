/**
 * The declarative description of a function's config space that device authors
 * write (ConfigSpec), and what the builder turns it into (ConfigImage): the
 * initial bytes plus the BAR/ROM sizes, which config space alone cannot carry.
 */

export type BarKind = "io" | "mem32" | "mem64";

/**
 * One base address register. Sizes are powers of two: I/O 4..256 bytes (PCI
 * 3.0 caps I/O BARs at 256), memory >= 16 bytes (>= 4 KiB if the client should
 * be able to mmap it), mem32 <= 2 GiB. A mem64 BAR takes its slot and the next.
 */
export type BarSpec =
  | { readonly kind: "io"; readonly size: number | bigint }
  | { readonly kind: "mem32"; readonly size: number | bigint; readonly prefetchable?: boolean }
  | { readonly kind: "mem64"; readonly size: number | bigint; readonly prefetchable?: boolean };

/** Power management: D0 and D3hot only. */
export interface PmSpec {
  readonly kind: "pm";
  readonly offset?: number;
  /** D3hot -> D0 keeps device state (default true: our devices reset only on explicit reset). */
  readonly noSoftReset?: boolean;
  /** PME_Support bits (D0, D1, D2, D3hot, D3cold as bits 0..4); default 0: no PME. */
  readonly pmeSupport?: number;
}

/** MSI: 1..32 vectors (power of two), 32- or 64-bit address, optional per-vector masking. */
export interface MsiSpec {
  readonly kind: "msi";
  readonly offset?: number;
  readonly vectors: number;
  readonly addr64?: boolean;
  readonly perVectorMask?: boolean;
}

/** MSI-X: table of 1..2048 entries and its pending-bit array, each in a memory BAR. */
export interface MsixSpec {
  readonly kind: "msix";
  readonly offset?: number;
  readonly tableSize: number;
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
}

/** PCI Express endpoint capability, version 2, x1 link at 2.5 GT/s by default. */
export interface PcieSpec {
  readonly kind: "pcie";
  readonly offset?: number;
  /** Advertise Function Level Reset; writes of Initiate-FLR then produce an "flr" event. Default true. */
  readonly flr?: boolean;
  /** Max_Payload_Size supported in bytes, 128..4096 (default 128). */
  readonly maxPayloadSupported?: number;
  /** Link speed generation 1..3 (2.5, 5, 8 GT/s), default 1. */
  readonly linkSpeed?: number;
  /** Link width in lanes: 1, 2, 4, 8, 12, 16 or 32 (default 1). */
  readonly linkWidth?: number;
}

/** Vendor-specific capability: `data` follows the id, next and length bytes. */
export interface VendorSpec {
  readonly kind: "vendor";
  readonly offset?: number;
  readonly data: Uint8Array;
}

/** A standard capability to build, told apart by `kind`. */
export type CapabilitySpec = PmSpec | MsiSpec | MsixSpec | PcieSpec | VendorSpec;

/** Device serial number (EUI-64). */
export interface DsnSpec {
  readonly kind: "dsn";
  readonly offset?: number;
  readonly serial: bigint;
}

/** Advanced Error Reporting, version 2, endpoint layout. */
export interface AerSpec {
  readonly kind: "aer";
  readonly offset?: number;
}

/** Vendor-specific extended capability: `data` follows the 8 bytes of headers. */
export interface VsecSpec {
  readonly kind: "vsec";
  readonly offset?: number;
  readonly vsecId: number;
  readonly vsecRev?: number;
  readonly data: Uint8Array;
}

/** An extended capability to build, told apart by `kind`. */
export type ExtCapabilitySpec = DsnSpec | AerSpec | VsecSpec;

/** What config space to build: identity, BARs, ROM and capabilities. */
export interface ConfigSpec {
  readonly vendorId: number;
  readonly deviceId: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** 24-bit class code: base class << 16 | subclass << 8 | programming interface. */
  readonly classCode: number;
  readonly revision?: number;
  /** 0 none, 1..4 INTA..INTD. */
  readonly interruptPin?: number;
  /** Up to 6 entries, indexed by BAR number; the slot after a mem64 BAR must be empty. */
  readonly bars?: readonly (BarSpec | undefined)[];
  /** Expansion ROM, size a power of two >= 2 KiB. */
  readonly rom?: { readonly size: number };
  /** Standard capabilities; placed automatically from 0x40 unless `offset` is given. */
  readonly capabilities?: readonly CapabilitySpec[];
  /** Extended capabilities (need a "pcie" capability); the list starts at 0x100. */
  readonly extendedCapabilities?: readonly ExtCapabilitySpec[];
}

/** A validated, implemented BAR. */
export interface BarDef {
  readonly index: number;
  readonly kind: BarKind;
  readonly size: bigint;
  readonly prefetchable: boolean;
}

/** A validated expansion ROM: its size. */
export interface RomDef {
  readonly size: number;
}

/** Input to the virtualizer: initial config bytes plus what sizing needs. */
export interface ConfigImage {
  /** 256 bytes, or 4096 with PCI Express. */
  readonly bytes: Uint8Array;
  /** Six slots; undefined for unimplemented BARs and for the upper half of a mem64 BAR. */
  readonly bars: readonly (BarDef | undefined)[];
  readonly rom: RomDef | undefined;
}
