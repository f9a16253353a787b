/**
 * Permission tables: for every field of the header and of each capability,
 * which bits the client may write, which it clears by writing 1 (RW1C), which
 * are write-1 strobes that read back 0, and which are virtualized.
 *
 * "Virtualized" keeps the meaning it has in vfio-pci, transposed to a device
 * that lives in software: virtualized bits belong to the framework's shadow
 * state (BARs, COMMAND, MSI programming, identity registers) and the device
 * model cannot change them; non-virtualized bits are "hardware" bits that the
 * device model drives through ConfigSpace.deviceWrite() (error status, pending
 * bits, logs, vendor-specific payloads), exactly as the physical function
 * would under vfio-pci. Bits that are neither writable nor RW1C are read-only
 * to the client. Bytes of a region that no field describes are fixed
 * (virtualized and read-only); bytes in no region read 0 and drop writes.
 *
 * Tables are data (arrays of FieldPerm built from the capability's own
 * registers where its layout depends on them); compilePermissions() flattens
 * them into per-byte masks so the access path is a loop over bytes.
 */
import { VfioError } from "../errors.js";

/** Post-processes a byte after a client write: `next` is the value the masks produced. */
export type ByteFilter = (next: number, old: number) => number;

/** Permissions of one field: which bits are virtualized, writable, write-1-to-clear or strobes. */
export interface FieldPerm {
  readonly name: string;
  /** Offset from the start of the header/capability. */
  readonly offset: number;
  /** Bytes. Masks are little-endian values for sizes 1..4; for longer blocks their low byte applies to every byte. */
  readonly size: number;
  readonly virt: number;
  readonly write?: number;
  readonly rw1c?: number;
  /** Write-1 action bits (e.g. Initiate FLR): reported, never stored, read 0. */
  readonly strobe?: number;
  /** Byte post-processing (only meaningful on size-1 fields). */
  readonly filter?: ByteFilter;
}

/** The permission table of the header or one capability: its fields. */
export type PermTable = readonly FieldPerm[];

/** Builds a capability's table from the initial image, its offset and its length. */
export type TableOf = (b: Uint8Array, off: number, length: number) => PermTable;

/** All 32 bits set; for blocks longer than 4 bytes, "every bit". */
export const ALL = 0xffffffff;

/** Complement within 32 bits (JS `~` is signed). */
export function not32(v: number): number {
  return ~v >>> 0;
}

/** A contiguous area of config space with one owner and one permission table. */
export interface Region {
  /** "header", or the capability's id and whether it is extended. */
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  readonly table: PermTable;
}

/** The flattened, per-byte form used on every access. */
export interface PermissionMap {
  readonly size: number;
  /** Region index owning each byte, -1 if none. */
  readonly owner: Int16Array;
  /** Index into `fields` for each byte, -1 if no field describes it. */
  readonly field: Int16Array;
  readonly fields: readonly {
    readonly name: string;
    readonly offset: number;
    readonly size: number;
  }[];
  readonly virt: Uint8Array;
  readonly write: Uint8Array;
  readonly rw1c: Uint8Array;
  readonly strobe: Uint8Array;
  readonly filters: ReadonlyMap<number, ByteFilter>;
}

function byteOf(mask: number, i: number, size: number): number {
  return size <= 4 ? Math.floor(mask / 2 ** (8 * i)) & 0xff : mask & 0xff;
}

/** Flattens region tables into per-byte masks; regions must not overlap. */
export function compilePermissions(size: number, regions: readonly Region[]): PermissionMap {
  const owner = new Int16Array(size).fill(-1);
  const field = new Int16Array(size).fill(-1);
  const virt = new Uint8Array(size);
  const write = new Uint8Array(size);
  const rw1c = new Uint8Array(size);
  const strobe = new Uint8Array(size);
  const filters = new Map<number, ByteFilter>();
  const fields: { name: string; offset: number; size: number }[] = [];
  regions.forEach((r, ri) => {
    if (r.offset < 0 || r.offset + r.length > size) {
      throw new VfioError(
        "EINVAL",
        `${r.name} [${r.offset}, +${r.length}) is outside config space`,
      );
    }
    for (let o = r.offset; o < r.offset + r.length; o++) {
      if (owner[o] !== -1)
        throw new VfioError("EINVAL", `${r.name} overlaps another region at ${o}`);
      owner[o] = ri;
      virt[o] = 0xff;
    }
    for (const f of r.table) {
      // A truncated capability (a foreign image) simply loses the fields past its end.
      const start = r.offset + f.offset;
      const end = Math.min(start + f.size, r.offset + r.length);
      if (start >= end) continue;
      const fi = fields.length;
      fields.push({ name: f.name, offset: start, size: end - start });
      for (let o = start; o < end; o++) {
        const i = o - start;
        field[o] = fi;
        virt[o] = byteOf(f.virt, i, f.size);
        write[o] = byteOf(f.write ?? 0, i, f.size);
        rw1c[o] = byteOf(f.rw1c ?? 0, i, f.size) & ~write[o]!;
        strobe[o] = byteOf(f.strobe ?? 0, i, f.size) & ~write[o]! & ~rw1c[o]!;
        if (f.filter) filters.set(o, f.filter);
      }
    }
  });
  return { size, owner, field, fields, virt, write, rw1c, strobe, filters };
}
