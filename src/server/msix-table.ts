import { VfioError } from "../errors.js";
import {
  msixPbaSize,
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
} from "../pci/index.js";

export { PCI_MSIX_ENTRY_SIZE };
/** The MSI-X capability allows at most 2048 vectors (table size field is 11 bits). */
export const MSIX_MAX_VECTORS = 2048;

/** Mask-bit transitions caused by one table write. */
export interface MsixTableWriteResult {
  /** Vectors whose mask bit went from 1 to 0. */
  readonly unmasked: readonly number[];
  /** Vectors whose mask bit went from 0 to 1. */
  readonly masked: readonly number[];
}

/** One decoded table entry. */
export interface MsixEntry {
  readonly address: bigint;
  readonly data: number;
  readonly masked: boolean;
}

/**
 * The MSI-X table and Pending Bit Array the framework emulates inside the BAR(s) the
 * capability points at. This is device state: it survives a client disconnect and is
 * reset only by a device reset.
 *
 * The PCI spec requires DWORD or QWORD aligned accesses; software that does otherwise
 * gets undefined results. We accept any access inside the structure and treat it as
 * memory, because a client dumping a BAR with large reads must not fail here.
 * Only bit 0 of vector control is writable (bits 31:1 are reserved, read as 0:
 * steering tags need TPH, which we do not offer). The PBA is read-only to software.
 */
export class MsixTable {
  readonly vectors: number;
  readonly #table: Uint8Array;
  readonly #tableView: DataView;
  readonly #pba: Uint8Array;

  constructor(vectors: number) {
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > MSIX_MAX_VECTORS) {
      throw new VfioError("EINVAL", `MSI-X needs 1..${MSIX_MAX_VECTORS} vectors, got ${vectors}`);
    }
    this.vectors = vectors;
    this.#table = new Uint8Array(vectors * PCI_MSIX_ENTRY_SIZE);
    this.#tableView = new DataView(this.#table.buffer);
    this.#pba = new Uint8Array(pbaSize(vectors));
    this.reset();
  }

  /** Bytes the table occupies in its BAR. */
  get tableSize(): number {
    return this.#table.byteLength;
  }

  /** Bytes the PBA occupies in its BAR: whole QWORDs, as the spec lays it out. */
  get pbaSize(): number {
    return this.#pba.byteLength;
  }

  /** Power-on / function-reset state: every entry zero with its mask bit set, nothing pending. */
  reset(): void {
    this.#table.fill(0);
    for (let v = 0; v < this.vectors; v++) {
      this.#tableView.setUint32(ctrlOffset(v), PCI_MSIX_ENTRY_CTRL_MASKBIT, true);
    }
    this.#pba.fill(0);
  }

  /** Table and PBA as they are (migration). */
  snapshot(): { table: Uint8Array; pba: Uint8Array } {
    return { table: this.#table.slice(), pba: this.#pba.slice() };
  }

  /** Puts back what snapshot() returned on a table of the same size. */
  restore(table: Uint8Array, pba: Uint8Array): void {
    if (table.byteLength !== this.#table.byteLength || pba.byteLength !== this.#pba.byteLength) {
      throw new VfioError(
        "EINVAL",
        `MSI-X state for ${table.byteLength / PCI_MSIX_ENTRY_SIZE} vectors, this device has ${this.vectors}`,
      );
    }
    this.#table.set(table);
    this.#pba.set(pba);
  }

  /** Reads the MSI-X table as the client sees it. */
  readTable(offset: number, size: number): Uint8Array {
    checkSpan("MSI-X table", offset, size, this.#table.byteLength);
    return this.#table.slice(offset, offset + size);
  }

  /** Writes software-writable bits and reports which vectors changed mask state. */
  writeTable(offset: number, data: Uint8Array): MsixTableWriteResult {
    checkSpan("MSI-X table", offset, data.byteLength, this.#table.byteLength);
    const first = Math.floor(offset / PCI_MSIX_ENTRY_SIZE);
    const last = Math.floor((offset + data.byteLength - 1) / PCI_MSIX_ENTRY_SIZE);
    const before: boolean[] = [];
    for (let v = first; v <= last; v++) before.push(this.isMasked(v));
    for (let i = 0; i < data.byteLength; i++) {
      const at = offset + i;
      const inEntry = at % PCI_MSIX_ENTRY_SIZE;
      if (inEntry < PCI_MSIX_ENTRY_VECTOR_CTRL) {
        this.#table[at] = data[i]!;
      } else if (inEntry === PCI_MSIX_ENTRY_VECTOR_CTRL) {
        this.#table[at] = data[i]! & PCI_MSIX_ENTRY_CTRL_MASKBIT;
      }
      // Bytes 13..15 of an entry are reserved: writes are dropped.
    }
    const unmasked: number[] = [];
    const masked: number[] = [];
    for (let v = first; v <= last; v++) {
      const now = this.isMasked(v);
      if (before[v - first] && !now) unmasked.push(v);
      else if (!before[v - first] && now) masked.push(v);
    }
    return { unmasked, masked };
  }

  /** Reads the pending bit array as the client sees it. */
  readPba(offset: number, size: number): Uint8Array {
    checkSpan("MSI-X PBA", offset, size, this.#pba.byteLength);
    return this.#pba.slice(offset, offset + size);
  }

  /** The vector's mask bit in its table entry. */
  isMasked(vector: number): boolean {
    this.#checkVector(vector);
    return (this.#table[ctrlOffset(vector)]! & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  /** Sets the vector's mask bit, as a table write would (used by device-side code and tests). */
  setMasked(vector: number, masked: boolean): void {
    this.#checkVector(vector);
    this.#table[ctrlOffset(vector)] = masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0;
  }

  /** Whether `vector`'s pending bit is set. */
  isPending(vector: number): boolean {
    this.#checkVector(vector);
    return (this.#pba[vector >> 3]! & (1 << (vector & 7))) !== 0;
  }

  /** Sets or clears `vector`'s pending bit. */
  setPending(vector: number, pending: boolean): void {
    this.#checkVector(vector);
    const bit = 1 << (vector & 7);
    if (pending) this.#pba[vector >> 3]! |= bit;
    else this.#pba[vector >> 3]! &= ~bit;
  }

  /** Vectors with their pending bit set, ascending. */
  pendingVectors(): number[] {
    const out: number[] = [];
    for (let byte = 0; byte < this.#pba.byteLength; byte++) {
      const bits = this.#pba[byte]!;
      if (bits === 0) continue;
      for (let b = 0; b < 8; b++) {
        const v = byte * 8 + b;
        if (v < this.vectors && (bits & (1 << b)) !== 0) out.push(v);
      }
    }
    return out;
  }

  /** Clears every pending bit (when the client disables MSI-X). */
  clearAllPending(): void {
    this.#pba.fill(0);
  }

  /** The message address/data software programmed for `vector`. */
  entry(vector: number): MsixEntry {
    this.#checkVector(vector);
    const base = vector * PCI_MSIX_ENTRY_SIZE;
    const lo = this.#tableView.getUint32(base, true);
    const hi = this.#tableView.getUint32(base + 4, true);
    return {
      address: (BigInt(hi) << 32n) | BigInt(lo),
      data: this.#tableView.getUint32(base + 8, true),
      masked: this.isMasked(vector),
    };
  }

  #checkVector(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector >= this.vectors) {
      throw new VfioError("EINVAL", `MSI-X vector ${vector} is outside 0..${this.vectors - 1}`);
    }
  }
}

/** Bytes of the PBA for `vectors` (see msixPbaSize). */
export const pbaSize = msixPbaSize;

function ctrlOffset(vector: number): number {
  return vector * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL;
}

function checkSpan(what: string, offset: number, size: number, limit: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size <= 0) {
    throw new VfioError("EINVAL", `${what}: bad access of ${size} bytes at ${offset}`);
  }
  if (offset + size > limit) {
    throw new VfioError(
      "EINVAL",
      `${what}: access of ${size} bytes at 0x${offset.toString(16)} runs past its ${limit} bytes`,
    );
  }
}
