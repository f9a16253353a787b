/**
 * lspci's "Capabilities: [100 v1] ..." lines for the PCI Express extended
 * capability list (AER decoded with -vv; DSN and vendor-specific in one line).
 */
import type { DecodedAer, DecodedExtCapability } from "../../pci/index.js";
import { PCI_DSN_SERIAL_HI, PCI_DSN_SERIAL_LO, PCI_VNDR_HEADER } from "../../pci/index.js";
import { hex0x } from "./caps.js";
import { flags, hex, u32 } from "./format.js";

/** Names lspci prints for extended capabilities we do not decode further. */
const NAMED_ONLY = new Map<number, string>([
  [0x02, "Virtual Channel"],
  [0x04, "Power Budgeting <?>"],
  [0x05, "Root Complex Link"],
  [0x0d, "Access Control Services"],
  [0x0e, "Alternative Routing-ID Interpretation (ARI)"],
  [0x0f, "Address Translation Service (ATS)"],
  [0x10, "Single Root I/O Virtualization (SR-IOV)"],
  [0x13, "Page Request Interface (PRI)"],
  [0x15, "Resizable BAR <?>"],
  [0x18, "Latency Tolerance Reporting"],
  [0x19, "Secondary PCI Express"],
  [0x1b, "Process Address Space ID (PASID)"],
  [0x1e, "L1 PM Substates"],
  [0x25, "Data Link Feature <?>"],
  [0x26, "Physical Layer 16.0 GT/s <?>"],
]);

const UNCORRECTABLE: readonly (readonly [string, number])[] = [
  ["DLP", 0x10],
  ["SDES", 0x20],
  ["TLP", 0x1000],
  ["FCP", 0x2000],
  ["CmpltTO", 0x4000],
  ["CmpltAbrt", 0x8000],
  ["UnxCmplt", 0x10000],
  ["RxOF", 0x20000],
  ["MalfTLP", 0x40000],
  ["ECRC", 0x80000],
  ["UnsupReq", 0x100000],
  ["ACSViol", 0x200000],
  ["UncorrIntErr", 0x400000],
];

const CORRECTABLE: readonly (readonly [string, number])[] = [
  ["RxErr", 0x1],
  ["BadTLP", 0x40],
  ["BadDLLP", 0x80],
  ["Rollover", 0x100],
  ["Timeout", 0x1000],
  ["AdvNonFatalErr", 0x2000],
  ["CorrIntErr", 0x4000],
  ["HeaderOF", 0x8000],
];

function aerLines(c: DecodedAer, verbose: number): string[] {
  const out = ["Advanced Error Reporting"];
  if (verbose < 2) return out;
  const cap = c.capControl;
  out.push(
    `\t\tUESta:\t${flags(c.uncorStatus, UNCORRECTABLE)}`,
    `\t\tUEMsk:\t${flags(c.uncorMask, UNCORRECTABLE)}`,
    `\t\tUESvrt:\t${flags(c.uncorSeverity, UNCORRECTABLE)}`,
    `\t\tCESta:\t${flags(c.corStatus, CORRECTABLE)}`,
    `\t\tCEMsk:\t${flags(c.corMask, CORRECTABLE)}`,
    `\t\tAERCap:\tFirst Error Pointer: ${hex(c.firstErrorPointer, 2)}, ${flags(cap, [
      ["ECRCGenCap", 0x20],
      ["ECRCGenEn", 0x40],
      ["ECRCChkCap", 0x80],
      ["ECRCChkEn", 0x100],
    ])}`,
    `\t\t\t${flags(cap, [
      ["MultHdrRecCap", 0x200],
      ["MultHdrRecEn", 0x400],
      ["TLPPfxPres", 0x800],
      ["HdrLogCap", 0x1000],
    ])}`,
    `\t\tHeaderLog: ${c.headerLog.map((w) => hex(w, 8)).join(" ")}`,
  );
  return out;
}

/** The lines of one extended capability; `b` is config space zero-padded to 4 KiB. */
export function extCapabilityLines(
  b: Uint8Array,
  c: DecodedExtCapability,
  verbose: number,
): string[] {
  let body: string[];
  switch (c.kind) {
    case "aer":
      body = aerLines(c, verbose);
      break;
    case "dsn": {
      // lspci prints the high dword first, most significant byte first.
      const lo = u32(b, c.offset + PCI_DSN_SERIAL_LO);
      const hi = u32(b, c.offset + PCI_DSN_SERIAL_HI);
      const bytes = [hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff];
      bytes.push(lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
      body = [`Device Serial Number ${bytes.map((x) => hex(x, 2)).join("-")}`];
      break;
    }
    case "vsec": {
      const h = u32(b, c.offset + PCI_VNDR_HEADER);
      body = [
        `Vendor Specific Information: ID=${hex(h & 0xffff, 4)} Rev=${(h >>> 16) & 0xf} Len=${hex(h >>> 20, 3)} <?>`,
      ];
      break;
    }
    default:
      body = [NAMED_ONLY.get(c.id) ?? `Extended Capability ID ${hex0x(c.id)}`];
  }
  const version = verbose > 1 ? ` v${c.version}` : "";
  body[0] = `\tCapabilities: [${hex(c.offset, 3)}${version}] ${body[0]}`;
  return body;
}
