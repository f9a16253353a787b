/**
 * Permission tables of the capabilities the framework understands. A table
 * may depend on the capability's own read-only registers (the MSI layout on
 * its flags, which mask bits exist on its vector count, whether Initiate-FLR
 * exists on DEVCAP); it is computed once from the initial image. Capabilities
 * without a table are entirely fixed (read-only) to the client.
 */
import { getU16, getU32 } from "./bytes.js";
import { ALL, type FieldPerm, not32, type PermTable, type TableOf } from "./perms.js";
import { EXTENDED_TABLES } from "./perms-ext.js";
import {
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_EXT_TAG,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCAP2_COMP_TMOUT_DIS,
  PCI_EXP_DEVCAP2_COMP_TMOUT_RANGES,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_AUX_PME,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_EXP_DEVCTL_CERE,
  PCI_EXP_DEVCTL_EXT_TAG,
  PCI_EXP_DEVCTL_FERE,
  PCI_EXP_DEVCTL_NFERE,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCTL_PAYLOAD,
  PCI_EXP_DEVCTL_READRQ,
  PCI_EXP_DEVCTL_RELAX_EN,
  PCI_EXP_DEVCTL_URRE,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVCTL2_COMP_TIMEOUT,
  PCI_EXP_DEVCTL2_COMP_TMOUT_DIS,
  PCI_EXP_DEVSTA,
  PCI_EXP_DEVSTA_AUXPD,
  PCI_EXP_DEVSTA_TRPND,
  PCI_EXP_DEVSTA2,
  PCI_EXP_FLAGS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKCTL_ASPMC,
  PCI_EXP_LNKCTL_CCC,
  PCI_EXP_LNKCTL_ES,
  PCI_EXP_LNKCTL_RCB,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA2,
  PCI_EXP_SLTCAP,
  PCI_EXP_SLTCAP2,
  PCI_MSI_ADDRESS_HI,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_32,
  PCI_MSI_DATA_64,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
  PCI_MSI_MASK_32,
  PCI_MSI_MASK_64,
  PCI_MSI_PENDING_32,
  PCI_MSI_PENDING_64,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_PM_CAP_D1,
  PCI_PM_CAP_D2,
  PCI_PM_CAP_PME_MASK,
  PCI_PM_CTRL,
  PCI_PM_CTRL_PME_ENABLE,
  PCI_PM_CTRL_PME_STATUS,
  PCI_PM_CTRL_STATE_MASK,
  PCI_PM_DATA_REGISTER,
  PCI_PM_PMC,
  PCI_PM_PPB_EXTENSIONS,
} from "./regs.js";

// The id/next bytes are virtual and read-only: the ownership map was built by
// walking them, so a client that rewired the list could make the framework's
// view and the guest's view of which bytes belong to what disagree.
const CAP_HEADER: FieldPerm = { name: "capability header", offset: 0, size: 2, virt: 0xffff };

/** Number of vectors the MSI capability can generate (Multiple Message Capable). */
export function msiCapableLog2(flags: number): number {
  return Math.min(5, (flags & PCI_MSI_FLAGS_QMASK) >> 1);
}

function msiTable(b: Uint8Array, off: number): PermTable {
  const flags = getU16(b, off + PCI_MSI_FLAGS);
  const is64 = (flags & PCI_MSI_FLAGS_64BIT) !== 0;
  const capable = msiCapableLog2(flags);
  // Only mask/pending bits of vectors that exist are implemented.
  const vectorBits = capable === 5 ? ALL : 2 ** (1 << capable) - 1;
  // Multiple Message Enable may not exceed what the device can generate: the
  // framework sizes its vector table from Multiple Message Capable.
  const clampMme: (next: number) => number = (next) =>
    (next & PCI_MSI_FLAGS_QSIZE) >> 4 > capable
      ? (next & ~PCI_MSI_FLAGS_QSIZE) | (capable << 4)
      : next;
  const table: FieldPerm[] = [
    CAP_HEADER,
    // Enable and Multiple Message Enable are the client's; they are virtual because
    // the framework wires vectors to eventfds from them.
    {
      name: "MSI control",
      offset: PCI_MSI_FLAGS,
      size: 1,
      virt: 0xff,
      write: PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE,
      filter: clampMme,
    },
    // Multiple Message Capable, 64-bit and per-vector-masking describe the
    // device and select this very table's layout: fixed.
    { name: "MSI control (high)", offset: PCI_MSI_FLAGS + 1, size: 1, virt: 0xff },
    // The message address/data are virtualized and writable: vfio-user signals an
    // eventfd per vector and the client owns the real message, so the shadow
    // only has to give the guest back what it programmed. Address is dword aligned.
    { name: "MSI address", offset: PCI_MSI_ADDRESS_LO, size: 4, virt: ALL, write: 0xfffffffc },
  ];
  if (is64)
    table.push({
      name: "MSI upper address",
      offset: PCI_MSI_ADDRESS_HI,
      size: 4,
      virt: ALL,
      write: ALL,
    });
  const data = is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
  table.push({ name: "MSI data", offset: data, size: 2, virt: 0xffff, write: 0xffff });
  if (flags & PCI_MSI_FLAGS_MASKBIT) {
    table.push(
      { name: "MSI extended data (reserved)", offset: data + 2, size: 2, virt: 0xffff },
      // Mask bits are the client's: the framework must know them to hold vectors pending.
      {
        name: "MSI mask",
        offset: is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32,
        size: 4,
        virt: ALL,
        write: vectorBits,
      },
      // Pending bits report device state: the device layer sets them, the client only reads.
      {
        name: "MSI pending",
        offset: is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32,
        size: 4,
        virt: not32(vectorBits),
      },
    );
  }
  return table;
}

const msixTable: TableOf = () => [
  CAP_HEADER,
  // Enable and Function Mask are the only client-controlled bits; Table Size is fixed.
  {
    name: "MSI-X control",
    offset: PCI_MSIX_FLAGS,
    size: 2,
    virt: 0xffff,
    write: PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL,
  },
  // Table/PBA location is fixed: the server emulates the table exactly there, and
  // a moved table would let the guest address BAR contents the framework protects.
  { name: "MSI-X table offset/BIR", offset: PCI_MSIX_TABLE, size: 4, virt: ALL },
  { name: "MSI-X PBA offset/BIR", offset: PCI_MSIX_PBA, size: 4, virt: ALL },
];

function pmTable(b: Uint8Array, off: number): PermTable {
  const pmc = getU16(b, off + PCI_PM_PMC);
  const supported = new Set([0, 3]);
  if (pmc & PCI_PM_CAP_D1) supported.add(1);
  if (pmc & PCI_PM_CAP_D2) supported.add(2);
  // Writes of an unsupported state complete but are discarded (PCI PM 1.2, 5.4.2).
  const keepUnsupported = (next: number, old: number) =>
    supported.has(next & PCI_PM_CTRL_STATE_MASK)
      ? next
      : (next & ~PCI_PM_CTRL_STATE_MASK) | (old & PCI_PM_CTRL_STATE_MASK);
  return [
    CAP_HEADER,
    // What power states and PME sources exist is a property of the device.
    { name: "PMC", offset: PCI_PM_PMC, size: 2, virt: 0xffff },
    // PowerState is the client's and virtual: the framework reports transitions.
    // No_Soft_Reset is fixed: it tells the client whether D3hot->D0 resets the function.
    {
      name: "PMCSR",
      offset: PCI_PM_CTRL,
      size: 1,
      virt: 0xff,
      write: PCI_PM_CTRL_STATE_MASK,
      filter: keepUnsupported,
    },
    // PME_En exists only if some PME source does; PME_Status is raised by the
    // device (not virtual) and cleared by writing 1. Data select/scale: no data register.
    {
      name: "PMCSR (high)",
      offset: PCI_PM_CTRL + 1,
      size: 1,
      virt: 0xff & ~(PCI_PM_CTRL_PME_STATUS >> 8),
      write: pmc & PCI_PM_CAP_PME_MASK ? PCI_PM_CTRL_PME_ENABLE >> 8 : 0,
      rw1c: PCI_PM_CTRL_PME_STATUS >> 8,
    },
    { name: "PMCSR_BSE", offset: PCI_PM_PPB_EXTENSIONS, size: 1, virt: 0xff },
    { name: "PM data", offset: PCI_PM_DATA_REGISTER, size: 1, virt: 0xff },
  ];
}

const DEVCTL_WRITABLE =
  PCI_EXP_DEVCTL_CERE |
  PCI_EXP_DEVCTL_NFERE |
  PCI_EXP_DEVCTL_FERE |
  PCI_EXP_DEVCTL_URRE |
  PCI_EXP_DEVCTL_RELAX_EN |
  PCI_EXP_DEVCTL_PAYLOAD |
  PCI_EXP_DEVCTL_AUX_PME |
  PCI_EXP_DEVCTL_NOSNOOP_EN |
  PCI_EXP_DEVCTL_READRQ;
const LNKCTL_WRITABLE =
  PCI_EXP_LNKCTL_ASPMC | PCI_EXP_LNKCTL_RCB | PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES;
const DEVSTA_DEVICE = 0x3f;
const DEVSTA_RW1C = DEVSTA_DEVICE & ~(PCI_EXP_DEVSTA_AUXPD | PCI_EXP_DEVSTA_TRPND);

function pcieTable(b: Uint8Array, off: number): PermTable {
  const devcap = getU32(b, off + PCI_EXP_DEVCAP);
  const devcap2 = getU32(b, off + PCI_EXP_DEVCAP2);
  const extTag = devcap & PCI_EXP_DEVCAP_EXT_TAG ? PCI_EXP_DEVCTL_EXT_TAG : 0;
  const ctoValue = devcap2 & PCI_EXP_DEVCAP2_COMP_TMOUT_RANGES ? PCI_EXP_DEVCTL2_COMP_TIMEOUT : 0;
  const ctoDisable = devcap2 & PCI_EXP_DEVCAP2_COMP_TMOUT_DIS ? PCI_EXP_DEVCTL2_COMP_TMOUT_DIS : 0;
  return [
    CAP_HEADER,
    // Capability registers describe the device and its link: fixed.
    { name: "PCIe flags", offset: PCI_EXP_FLAGS, size: 2, virt: 0xffff },
    { name: "DEVCAP", offset: PCI_EXP_DEVCAP, size: 4, virt: ALL },
    // Device control: error reporting, payload/read-request sizes, ordering
    // attributes are the client's. Phantom functions are not supported (fixed 0);
    // extended tags only if advertised. Initiate-FLR is a strobe that reads 0 and
    // becomes an "flr" event, and only when DEVCAP advertises FLR.
    {
      name: "DEVCTL",
      offset: PCI_EXP_DEVCTL,
      size: 2,
      virt: 0xffff,
      write: DEVCTL_WRITABLE | extTag,
      strobe: devcap & PCI_EXP_DEVCAP_FLR ? PCI_EXP_DEVCTL_BCR_FLR : 0,
    },
    // Error-detected bits are raised by the device and cleared by writing 1;
    // AUX power / transactions pending are device state, read-only.
    {
      name: "DEVSTA",
      offset: PCI_EXP_DEVSTA,
      size: 2,
      virt: 0xffff & ~DEVSTA_DEVICE,
      rw1c: DEVSTA_RW1C,
    },
    { name: "LNKCAP", offset: PCI_EXP_LNKCAP, size: 4, virt: ALL },
    // Endpoint link control: ASPM, RCB, common clock, extended synch. Link
    // disable/retrain are reserved for endpoints, so fixed.
    { name: "LNKCTL", offset: PCI_EXP_LNKCTL, size: 2, virt: 0xffff, write: LNKCTL_WRITABLE },
    // Link status is link state: the device's to report.
    { name: "LNKSTA", offset: PCI_EXP_LNKSTA, size: 2, virt: 0 },
    // Slot and root registers do not apply to an endpoint.
    { name: "slot/root registers", offset: PCI_EXP_SLTCAP, size: 16, virt: ALL },
    { name: "DEVCAP2", offset: PCI_EXP_DEVCAP2, size: 4, virt: ALL },
    // Completion timeout value/disable are writable only where DEVCAP2 says they exist.
    {
      name: "DEVCTL2",
      offset: PCI_EXP_DEVCTL2,
      size: 2,
      virt: 0xffff,
      write: ctoValue | ctoDisable,
    },
    { name: "DEVSTA2", offset: PCI_EXP_DEVSTA2, size: 2, virt: 0xffff },
    { name: "LNKCAP2", offset: PCI_EXP_LNKCAP2, size: 4, virt: ALL },
    // Target link speed is fixed: a software link cannot retrain.
    { name: "LNKCTL2", offset: PCI_EXP_LNKCTL2, size: 2, virt: 0xffff },
    { name: "LNKSTA2", offset: PCI_EXP_LNKSTA2, size: 2, virt: 0 },
    { name: "slot 2 registers", offset: PCI_EXP_SLTCAP2, size: 8, virt: ALL },
  ];
}

// A vendor-specific capability's length is fixed (it is the walk's length);
// its payload is device-defined, so the device model owns it and the client reads it.
const vendorTable: TableOf = (_b, _off, length) => [
  CAP_HEADER,
  { name: "vendor length", offset: 2, size: 1, virt: 0xff },
  { name: "vendor data", offset: 3, size: length - 3, virt: 0 },
];

/** Permission table builders of the standard capabilities, by capability ID. */
export const STANDARD_TABLES: ReadonlyMap<number, TableOf> = new Map<number, TableOf>([
  [PCI_CAP_ID_PM, pmTable],
  [PCI_CAP_ID_MSI, msiTable],
  [PCI_CAP_ID_MSIX, msixTable],
  [PCI_CAP_ID_EXP, pcieTable],
  [PCI_CAP_ID_VNDR, vendorTable],
]);

export { EXTENDED_TABLES };
