/**
 * lspci's decoding of the PCI Express capability: the summary line and, with -vv,
 * DevCap/DevCtl/DevSta, the link registers, and the version 2 registers.
 */
import type { DecodedPcie } from "../../pci/index.js";
import {
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCTL2,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKSTA2,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_PCIE_BRIDGE,
  PCI_EXP_TYPE_RC_EC,
  PCI_EXP_TYPE_RC_END,
  PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
} from "../../pci/index.js";
import { flag, flags, hex, u16, u32 } from "./format.js";

const L0S = ["<64ns", "<128ns", "<256ns", "<512ns", "<1us", "<2us", "<4us", "unlimited"];
const L1 = ["<1us", "<2us", "<4us", "<8us", "<16us", "<32us", "<64us", "unlimited"];
const ASPM_SUPPORT = ["not supported", "L0s", "L1", "L0s L1"];
const ASPM_ENABLED = ["Disabled", "L0s Enabled", "L1 Enabled", "L0s L1 Enabled"];

function linkSpeed(code: number): string {
  return ["2.5GT/s", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s"][code] ?? "unknown";
}

function typeName(type: number, slot: boolean): string {
  const s = slot ? "+" : "-";
  switch (type) {
    case PCI_EXP_TYPE_ENDPOINT:
      return "Endpoint";
    case PCI_EXP_TYPE_LEG_END:
      return "Legacy Endpoint";
    case PCI_EXP_TYPE_ROOT_PORT:
      return `Root Port (Slot${s})`;
    case PCI_EXP_TYPE_UPSTREAM:
      return "Upstream Port";
    case PCI_EXP_TYPE_DOWNSTREAM:
      return `Downstream Port (Slot${s})`;
    case PCI_EXP_TYPE_PCI_BRIDGE:
      return "PCI-Express to PCI/PCI-X Bridge";
    case PCI_EXP_TYPE_PCIE_BRIDGE:
      return `PCI/PCI-X to PCI-Express Bridge (Slot${s})`;
    case PCI_EXP_TYPE_RC_END:
      return "Root Complex Integrated Endpoint";
    case PCI_EXP_TYPE_RC_EC:
      return "Root Complex Event Collector";
    default:
      return `Unknown type ${type}`;
  }
}

const isEndpoint = (t: number) => t === PCI_EXP_TYPE_ENDPOINT || t === PCI_EXP_TYPE_LEG_END;
const flrCapable = (t: number) => isEndpoint(t) || t === PCI_EXP_TYPE_RC_END;

function deviceLines(c: DecodedPcie, type: number): string[] {
  const cap = c.devcap.raw;
  let l1 = `\t\tDevCap:\tMaxPayload ${128 << (cap & 7)} bytes, PhantFunc ${(1 << ((cap >> 3) & 3)) - 1}`;
  if (isEndpoint(type)) l1 += `, Latency L0s ${L0S[(cap >> 6) & 7]}, L1 ${L1[(cap >> 9) & 7]}`;
  let l2 = `\t\t\tExtTag${flag(cap, 0x20)}`;
  if (isEndpoint(type) || type === PCI_EXP_TYPE_UPSTREAM || type === PCI_EXP_TYPE_PCI_BRIDGE) {
    l2 += ` AttnBtn${flag(cap, 0x1000)} AttnInd${flag(cap, 0x2000)} PwrInd${flag(cap, 0x4000)}`;
  }
  l2 += ` RBE${flag(cap, 0x8000)}`;
  if (flrCapable(type)) l2 += ` FLReset${flag(cap, 0x10000000)}`;
  const ctl = c.devctl.raw;
  let ctl2 = `\t\t\t${flags(ctl, [
    ["RlxdOrd", 0x10],
    ["ExtTag", 0x100],
    ["PhantFunc", 0x200],
    ["AuxPwr", 0x400],
    ["NoSnoop", 0x800],
  ])}`;
  if (type === PCI_EXP_TYPE_PCI_BRIDGE) ctl2 += ` BrConfRtry${flag(ctl, 0x8000)}`;
  if (flrCapable(type) && cap & 0x10000000) ctl2 += ` FLReset${flag(ctl, 0x8000)}`;
  const sta = c.devsta.raw;
  return [
    l1,
    l2,
    `\t\tDevCtl:\t${flags(ctl, [
      ["CorrErr", 1],
      ["NonFatalErr", 2],
      ["FatalErr", 4],
      ["UnsupReq", 8],
    ])}`,
    ctl2,
    `\t\t\tMaxPayload ${128 << ((ctl >> 5) & 7)} bytes, MaxReadReq ${128 << ((ctl >> 12) & 7)} bytes`,
    `\t\tDevSta:\t${flags(sta, [
      ["CorrErr", 1],
      ["NonFatalErr", 2],
      ["FatalErr", 4],
      ["UnsupReq", 8],
      ["AuxPwr", 0x10],
      ["TransPend", 0x20],
    ])}`,
  ];
}

/** lspci's link_compare: how the negotiated value compares to the capability. */
function compare(type: number, sta: number, cap: number): string {
  if (sta > cap) return " (overdriven)";
  if (sta === cap) return " (ok)";
  const port =
    type === PCI_EXP_TYPE_ROOT_PORT ||
    type === PCI_EXP_TYPE_DOWNSTREAM ||
    type === PCI_EXP_TYPE_PCIE_BRIDGE;
  return port ? "" : " (downgraded)";
}

function linkLines(c: DecodedPcie, type: number): string[] {
  const cap = c.lnkcap.raw;
  const aspm = (cap >> 10) & 3;
  const capSpeed = cap & 0xf;
  const capWidth = (cap >> 4) & 0x3f;
  let l1 = `\t\tLnkCap:\tPort #${cap >>> 24}, Speed ${linkSpeed(capSpeed)}, Width x${capWidth}, ASPM ${ASPM_SUPPORT[aspm]}`;
  if (aspm) {
    const lat: string[] = [];
    if (aspm & 1) lat.push(`L0s ${L0S[(cap >> 12) & 7]}`);
    if (aspm & 2) lat.push(`L1 ${L1[(cap >> 15) & 7]}`);
    l1 += `, Exit Latency ${lat.join(", ")}`;
  }
  const ctl = c.lnkctl.raw;
  let c1 = `\t\tLnkCtl:\tASPM ${ASPM_ENABLED[ctl & 3]};`;
  if (type === PCI_EXP_TYPE_ROOT_PORT || isEndpoint(type) || type === PCI_EXP_TYPE_PCI_BRIDGE) {
    c1 += ` RCB ${ctl & 0x8 ? 128 : 64} bytes,`;
  }
  c1 += ` LnkDisable${flag(ctl, 0x10)} CommClk${flag(ctl, 0x40)}`;
  const sta = c.lnksta.raw;
  const staSpeed = sta & 0xf;
  const staWidth = (sta >> 4) & 0x3f;
  return [
    l1,
    `\t\t\t${flags(cap, [
      ["ClockPM", 1 << 18],
      ["Surprise", 1 << 19],
      ["LLActRep", 1 << 20],
      ["BwNot", 1 << 21],
      ["ASPMOptComp", 1 << 22],
    ])}`,
    c1,
    `\t\t\t${flags(ctl, [
      ["ExtSynch", 0x80],
      ["ClockPM", 0x100],
      ["AutWidDis", 0x200],
      ["BWInt", 0x400],
      ["AutBWInt", 0x800],
    ])}`,
    `\t\tLnkSta:\tSpeed ${linkSpeed(staSpeed)}${compare(type, staSpeed, capSpeed)}, ` +
      `Width x${staWidth}${compare(type, staWidth, capWidth)}`,
    `\t\t\t${flags(sta, [
      ["TrErr", 0x400],
      ["Train", 0x800],
      ["SlotClk", 0x1000],
      ["DLActive", 0x2000],
      ["BWMgmt", 0x4000],
      ["ABWMgmt", 0x8000],
    ])}`,
  ];
}

function timeoutRange(v: number): string {
  const ranges: Record<number, string> = {
    0: "Not Supported",
    1: "Range A",
    2: "Range B",
    3: "Range AB",
    6: "Range BC",
    7: "Range ABC",
    14: "Range BCD",
    15: "Range ABCD",
  };
  return ranges[v] ?? "Unknown";
}

function timeoutValue(v: number): string {
  const values: Record<number, string> = {
    0: "50us to 50ms",
    1: "50us to 100us",
    2: "1ms to 10ms",
    5: "16ms to 55ms",
    6: "65ms to 210ms",
    9: "260ms to 900ms",
    10: "1s to 3.5s",
    13: "4s to 13s",
    14: "17s to 64s",
  };
  return values[v] ?? "Unknown";
}

function supportedSpeeds(vector: number): string {
  if (vector & 0x60) return "RsvdP";
  if (vector & 0x10) return "2.5-32GT/s";
  if (vector & 0x08) return "2.5-16GT/s";
  if (vector & 0x04) return "2.5-8GT/s";
  if (vector & 0x02) return "2.5-5GT/s";
  if (vector & 0x01) return "2.5GT/s";
  return "Unknown";
}

/** The main fields of the version 2 registers (lspci prints more; these are what we model). */
function v2Lines(b: Uint8Array, o: number, link: boolean): string[] {
  const cap2 = u32(b, o + PCI_EXP_DEVCAP2);
  const ctl2 = u16(b, o + PCI_EXP_DEVCTL2);
  const out = [
    `\t\tDevCap2: Completion Timeout: ${timeoutRange(cap2 & 0xf)}, ${flags(cap2, [
      ["TimeoutDis", 0x10],
      ["NROPrPrP", 0x400],
      ["LTR", 0x800],
    ])}`,
    `\t\tDevCtl2: Completion Timeout: ${timeoutValue(ctl2 & 0xf)}, ${flags(ctl2, [
      ["TimeoutDis", 0x10],
      ["LTR", 0x400],
    ])}`,
  ];
  if (link) {
    const lcap2 = u32(b, o + PCI_EXP_LNKCAP2);
    const lctl2 = u16(b, o + PCI_EXP_LNKCTL2);
    const lsta2 = u16(b, o + PCI_EXP_LNKSTA2);
    out.push(
      `\t\tLnkCap2: Supported Link Speeds: ${supportedSpeeds((lcap2 >> 1) & 0x7f)}, Crosslink${flag(lcap2, 1 << 8)}`,
      `\t\tLnkCtl2: Target Link Speed: ${linkSpeed(lctl2 & 0xf)}, ${flags(lctl2, [
        ["EnterCompliance", 0x10],
        ["SpeedDis", 0x20],
      ])}`,
      `\t\tLnkSta2: Current De-emphasis Level: ${lsta2 & 1 ? "-3.5dB" : "-6dB"}`,
    );
  }
  return out;
}

/** "Express (v2) Endpoint, MSI 00" and, with -vv, the register decodings. */
export function expressLines(b: Uint8Array, c: DecodedPcie, verbose: number): string[] {
  const type = c.portType;
  const head = `Express ${verbose >= 2 ? `(v${c.version}) ` : ""}${typeName(type, c.slotImplemented)}, MSI ${hex(c.interruptMessageNumber, 2)}`;
  if (verbose < 2) return [head];
  // Root complex integrated endpoints and event collectors have no link.
  const link = type !== PCI_EXP_TYPE_RC_END && type !== PCI_EXP_TYPE_RC_EC;
  const out = [head, ...deviceLines(c, type)];
  if (link) out.push(...linkLines(c, type));
  if (c.version >= 2) out.push(...v2Lines(b, c.offset, link));
  return out;
}
