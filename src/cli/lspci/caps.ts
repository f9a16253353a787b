/**
 * lspci's "Capabilities: [xx] ..." lines for the standard capability list, with
 * the indented detail lines of -vv. Flags are read from the raw registers (as
 * lspci does), so odd values show as they are rather than as the decoder clamps them.
 */
import type {
  DecodedCapability,
  DecodedMsi,
  DecodedMsix,
  DecodedPm,
  DecodedVendor,
} from "../../pci/index.js";
import {
  PCI_CAP_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_FLAGS_QSIZE,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_PM_PPB_EXTENSIONS,
} from "../../pci/index.js";
import { expressLines } from "./express.js";
import { flag, hex, u8, u16, u32 } from "./format.js";

const PM_AUX_CURRENT_MA = [0, 55, 100, 160, 220, 270, 320, 375];

/** What lspci prints for capability ids it names without decoding. */
const NAMED_ONLY = new Map<number, string>([
  [0x00, "Null"],
  [0x02, "AGP <?>"],
  [0x03, "Vital Product Data"],
  [0x04, "Slot ID <?>"],
  [0x06, "CompactPCI hot-swap <?>"],
  [0x07, "PCI-X <?>"],
  [0x08, "HyperTransport <?>"],
  [0x0a, "Debug port <?>"],
  [0x0b, "CompactPCI central resource control <?>"],
  [0x0c, "Hot-plug capable"],
  [0x0d, "Subsystem <?>"],
  [0x0e, "AGP3 <?>"],
  [0x0f, "Secure device <?>"],
  [0x12, "SATA HBA <?>"],
  [0x13, "PCI Advanced Features <?>"],
  [0x14, "Enhanced Allocation (EA) <?>"],
]);

function pmLines(b: Uint8Array, c: DecodedPm, verbose: number): string[] {
  const out = [`Power Management version ${c.version}`];
  if (verbose < 2) return out;
  const s = c.pmeSupport;
  const yn = (v: boolean) => (v ? "+" : "-");
  out.push(
    `\t\tFlags: PMEClk${yn(c.pmeClock)} DSI${yn(c.dsi)} D1${yn(c.d1)} D2${yn(c.d2)} ` +
      `AuxCurrent=${PM_AUX_CURRENT_MA[c.auxCurrent]}mA ` +
      `PME(D0${flag(s, 1)},D1${flag(s, 2)},D2${flag(s, 4)},D3hot${flag(s, 8)},D3cold${flag(s, 16)})`,
  );
  out.push(
    `\t\tStatus: D${c.powerState} NoSoftRst${yn(c.noSoftReset)} PME-Enable${yn(c.pmeEnable)} ` +
      `DSel=${c.dataSelect} DScale=${c.dataScale} PME${yn(c.pmeStatus)}`,
  );
  const bse = u8(b, c.offset + PCI_PM_PPB_EXTENSIONS);
  // Bus power/clock control enable (bit 7) and B2/B3 (bit 6: B2 when set).
  if (bse !== 0) out.push(`\t\tBridge: PM${flag(bse, 0x80)} B3${flag(~bse, 0x40)}`);
  return out;
}

function msiLines(b: Uint8Array, c: DecodedMsi, verbose: number): string[] {
  const f = u16(b, c.offset + PCI_CAP_FLAGS);
  const out = [
    `MSI: Enable${flag(f, PCI_MSI_FLAGS_ENABLE)} ` +
      `Count=${1 << ((f & PCI_MSI_FLAGS_QSIZE) >> 4)}/${1 << ((f & PCI_MSI_FLAGS_QMASK) >> 1)} ` +
      `Maskable${flag(f, PCI_MSI_FLAGS_MASKBIT)} 64bit${flag(f, PCI_MSI_FLAGS_64BIT)}`,
  ];
  if (verbose < 2) return out;
  const address = c.addr64 ? hex(c.address, 16) : hex(c.address, 8);
  out.push(`\t\tAddress: ${address}  Data: ${hex(c.data, 4)}`);
  if (c.perVectorMask) {
    out.push(`\t\tMasking: ${hex(c.maskBits, 8)}  Pending: ${hex(c.pendingBits, 8)}`);
  }
  return out;
}

function msixLines(b: Uint8Array, c: DecodedMsix, verbose: number): string[] {
  const f = u16(b, c.offset + PCI_CAP_FLAGS);
  const out = [
    `MSI-X: Enable${flag(f, PCI_MSIX_FLAGS_ENABLE)} Count=${(f & PCI_MSIX_FLAGS_QSIZE) + 1} ` +
      `Masked${flag(f, PCI_MSIX_FLAGS_MASKALL)}`,
  ];
  if (verbose < 2) return out;
  const table = u32(b, c.offset + PCI_MSIX_TABLE);
  const pba = u32(b, c.offset + PCI_MSIX_PBA);
  out.push(`\t\tVector table: BAR=${table & 7} offset=${hex((table & ~7) >>> 0, 8)}`);
  out.push(`\t\tPBA: BAR=${pba & 7} offset=${hex((pba & ~7) >>> 0, 8)}`);
  return out;
}

function vendorLines(c: DecodedVendor): string[] {
  // The length byte as stored (the walk may have clamped c.length).
  return [`Vendor Specific Information: Len=${hex(c.data.length + 3, 2)} <?>`];
}

/**
 * The lines of one standard capability; the first starts with "\tCapabilities: [xx] ".
 * `b` is config space, zero-padded to 4 KiB.
 */
export function capabilityLines(b: Uint8Array, c: DecodedCapability, verbose: number): string[] {
  let body: string[];
  switch (c.kind) {
    case "pm":
      body = pmLines(b, c, verbose);
      break;
    case "msi":
      body = msiLines(b, c, verbose);
      break;
    case "msix":
      body = msixLines(b, c, verbose);
      break;
    case "pcie":
      body = expressLines(b, c, verbose);
      break;
    case "vendor":
      body = vendorLines(c);
      break;
    default: {
      const named = NAMED_ONLY.get(c.id);
      body = [named ?? `#${hex(c.id, 2)} [${hex(u16(b, c.offset + PCI_CAP_FLAGS), 4)}]`];
    }
  }
  body[0] = `\tCapabilities: [${hex(c.offset, 2)}] ${body[0]}`;
  return body;
}

/** C's "%#02x": "0x13", and "0" for zero. */
export function hex0x(v: number): string {
  return v === 0 ? "0" : `0x${hex(v, 0)}`;
}
