/** Identify data structures (NVMe Base 1.4, section 5.15.2): 4 KiB each. */
import type { Namespace } from "./namespace.js";
import { CQES_LOG2, SQES_LOG2, VERSION } from "./regs.js";

export interface ControllerIdentity {
  readonly vendorId: number;
  readonly serial: string;
  readonly model: string;
  readonly firmware: string;
  /** MDTS: the largest transfer is 2^mdts pages. */
  readonly mdts: number;
  readonly namespaces: number;
  /** Aborts and AERs the controller takes at once (ACL, AERL are 0-based). */
  readonly abortLimit: number;
  readonly aerLimit: number;
  readonly errorLogEntries: number;
}

const IDENTIFY_SIZE = 4096;

function text(page: Uint8Array, at: number, len: number, s: string): void {
  page.fill(0x20, at, at + len); // ASCII, space padded
  page.set(new TextEncoder().encode(s.slice(0, len)), at);
}

export function identifyController(id: ControllerIdentity): Uint8Array {
  const page = new Uint8Array(IDENTIFY_SIZE);
  const v = new DataView(page.buffer);
  v.setUint16(0, id.vendorId, true); // VID
  v.setUint16(2, id.vendorId, true); // SSVID
  text(page, 4, 20, id.serial);
  text(page, 24, 40, id.model);
  text(page, 64, 8, id.firmware);
  page[72] = 6; // RAB
  page[77] = id.mdts;
  v.setUint16(78, 1, true); // CNTLID
  v.setUint32(80, VERSION, true);
  page[111] = 1; // CNTRLTYPE: I/O controller
  page[258] = id.abortLimit - 1; // ACL
  page[259] = id.aerLimit - 1; // AERL
  page[260] = 0x03; // FRMW: slot 1 read-only, one slot
  page[262] = id.errorLogEntries - 1; // ELPE
  v.setUint16(266, 0x0157, true); // WCTEMP 343 K
  v.setUint16(268, 0x0175, true); // CCTEMP 373 K
  page[512] = (SQES_LOG2 << 4) | SQES_LOG2; // SQES max | min
  page[513] = (CQES_LOG2 << 4) | CQES_LOG2; // CQES
  v.setUint32(516, id.namespaces, true); // NN
  v.setUint16(520, (1 << 2) | (1 << 3), true); // ONCS: Dataset Management, Write Zeroes
  page[525] = 1; // VWC: a volatile write cache (Flush makes data durable)
  page[530] = 1; // NVSCC
  // SGLS (536) stays 0: data pointers are PRPs only.
  // SUBNQN: UTF-8, NUL padded.
  page.set(
    new TextEncoder().encode(`nqn.2024-01.io.github.vfio-ts:nvme:${id.serial}`).subarray(0, 255),
    768,
  );
  v.setUint16(2048, 2500, true); // PSD0 max power: 25.00 W
  return page;
}

/** Identify Namespace (CNS 0): one LBA format, deallocated blocks read as zeroes. */
export function identifyNamespace(ns: Namespace): Uint8Array {
  const page = new Uint8Array(IDENTIFY_SIZE);
  const v = new DataView(page.buffer);
  const blocks = BigInt(ns.blocks);
  v.setBigUint64(0, blocks, true); // NSZE
  v.setBigUint64(8, blocks, true); // NCAP
  v.setBigUint64(16, blocks, true); // NUSE
  page[25] = 0; // NLBAF: one format
  page[26] = 0; // FLBAS: format 0
  page[33] = 0x01; // DLFEAT: deallocated blocks read as zeroes
  v.setUint32(128, ns.lbads << 16, true); // LBAF0: LBADS, no metadata
  return page;
}

/** Active Namespace ID list (CNS 2): the active NSIDs above `after`, ascending. */
export function activeNamespaceList(nsids: readonly number[], after: number): Uint8Array {
  const page = new Uint8Array(IDENTIFY_SIZE);
  const v = new DataView(page.buffer);
  let i = 0;
  for (const id of nsids) if (id > after && i < 1024) v.setUint32(4 * i++, id, true);
  return page;
}

/** Namespace Identification Descriptor list (CNS 3): an NGUID and a UUID from the NSID and serial. */
export function namespaceDescriptors(ns: Namespace, serial: string): Uint8Array {
  const page = new Uint8Array(IDENTIFY_SIZE);
  const id = new Uint8Array(16);
  const seed = new TextEncoder().encode(`${serial}/${ns.nsid}`);
  for (let i = 0; i < seed.length; i++) id[i % 16] = (id[i % 16]! * 31 + seed[i]!) & 0xff;
  page[0] = 2; // NIDT: NGUID
  page[1] = 16;
  page.set(id, 4);
  page[20] = 3; // NIDT: UUID (version 4 layout bits)
  page[21] = 16;
  const uuid = id.slice();
  uuid[6] = (uuid[6]! & 0x0f) | 0x40;
  uuid[8] = (uuid[8]! & 0x3f) | 0x80;
  page.set(uuid, 24);
  return page;
}
