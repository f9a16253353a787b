/**
 * Permission tables of the extended capabilities the framework understands.
 * Every extended header is fixed for the same reason as a standard one: the
 * ownership map was built by walking it.
 */

import { ALL, type FieldPerm, not32, type TableOf } from "./perms.js";
import {
  PCI_DSN_SERIAL_LO,
  PCI_ERR_CAP,
  PCI_ERR_CAP_FEP_MASK,
  PCI_ERR_COR_MASK,
  PCI_ERR_COR_STATUS,
  PCI_ERR_COR_SUPPORTED,
  PCI_ERR_HEADER_LOG,
  PCI_ERR_PREFIX_LOG,
  PCI_ERR_ROOT_COMMAND,
  PCI_ERR_UNC_SUPPORTED,
  PCI_ERR_UNCOR_MASK,
  PCI_ERR_UNCOR_SEVER,
  PCI_ERR_UNCOR_STATUS,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_VNDR,
  PCI_EXT_CAP_VNDR_HEADER_SIZEOF,
  PCI_VNDR_HEADER,
} from "./regs.js";

const EXT_HEADER: FieldPerm = { name: "extended capability header", offset: 0, size: 4, virt: ALL };

const aerTable: TableOf = () => [
  EXT_HEADER,
  // Status registers record errors the device model detected (not virtual);
  // the client acknowledges them by writing 1. Unmodelled error bits are fixed 0.
  {
    name: "AER uncorrectable status",
    offset: PCI_ERR_UNCOR_STATUS,
    size: 4,
    virt: not32(PCI_ERR_UNC_SUPPORTED),
    rw1c: PCI_ERR_UNC_SUPPORTED,
  },
  // Masks and severities are error-handling policy: the client's.
  {
    name: "AER uncorrectable mask",
    offset: PCI_ERR_UNCOR_MASK,
    size: 4,
    virt: ALL,
    write: PCI_ERR_UNC_SUPPORTED,
  },
  {
    name: "AER uncorrectable severity",
    offset: PCI_ERR_UNCOR_SEVER,
    size: 4,
    virt: ALL,
    write: PCI_ERR_UNC_SUPPORTED,
  },
  {
    name: "AER correctable status",
    offset: PCI_ERR_COR_STATUS,
    size: 4,
    virt: not32(PCI_ERR_COR_SUPPORTED),
    rw1c: PCI_ERR_COR_SUPPORTED,
  },
  {
    name: "AER correctable mask",
    offset: PCI_ERR_COR_MASK,
    size: 4,
    virt: ALL,
    write: PCI_ERR_COR_SUPPORTED,
  },
  // First error pointer is device state; ECRC is not offered, so its enables are fixed 0.
  {
    name: "AER capabilities and control",
    offset: PCI_ERR_CAP,
    size: 4,
    virt: not32(PCI_ERR_CAP_FEP_MASK),
  },
  // Logs are written by the device model when it records an error.
  { name: "AER header log", offset: PCI_ERR_HEADER_LOG, size: 16, virt: 0 },
  // Root port registers: reserved for an endpoint.
  { name: "AER root registers", offset: PCI_ERR_ROOT_COMMAND, size: 12, virt: ALL },
  { name: "AER TLP prefix log", offset: PCI_ERR_PREFIX_LOG, size: 16, virt: 0 },
];

// The serial number is identity: fixed.
const dsnTable: TableOf = () => [
  EXT_HEADER,
  { name: "DSN serial", offset: PCI_DSN_SERIAL_LO, size: 8, virt: ALL },
];

// The VSEC header (id, revision, length) is fixed; the payload is the device model's.
const vsecTable: TableOf = (_b, _off, length) => [
  EXT_HEADER,
  { name: "VSEC header", offset: PCI_VNDR_HEADER, size: 4, virt: ALL },
  {
    name: "VSEC data",
    offset: PCI_EXT_CAP_VNDR_HEADER_SIZEOF,
    size: length - PCI_EXT_CAP_VNDR_HEADER_SIZEOF,
    virt: 0,
  },
];

/** Permission table builders of the extended capabilities, by capability ID. */
export const EXTENDED_TABLES: ReadonlyMap<number, TableOf> = new Map<number, TableOf>([
  [PCI_EXT_CAP_ID_ERR, aerTable],
  [PCI_EXT_CAP_ID_DSN, dsnTable],
  [PCI_EXT_CAP_ID_VNDR, vsecTable],
]);
