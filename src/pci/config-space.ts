/**
 * The config space virtualizer: the live image a client reads and writes
 * through region index 7, filtered by the permission tables, plus the
 * accessors and event list the server acts on. Pure and synchronous.
 *
 * Every access is processed byte by byte against per-byte masks, so a
 * multi-byte access (aligned or not, straddling fields or capabilities)
 * behaves exactly like the same bytes accessed one at a time.
 */
import { VfioError } from "../errors.js";
import { barTypeBits, buildConfigSpace, validateBars, validateRom } from "./builder.js";
import { getLE, getU16, getU32, hex, setU32, toLE } from "./bytes.js";
import { buildWatchers, type ConfigEvent, type Watcher } from "./events.js";
import { compilePermissions, type PermissionMap, type Region } from "./perms.js";
import { EXTENDED_TABLES, STANDARD_TABLES } from "./perms-caps.js";
import { barWriteMasks, headerTable, romWriteMask } from "./perms-header.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_EXP_DEVCTL,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MASK,
  PCI_MSI_MASK_32,
  PCI_MSI_MASK_64,
  PCI_MSI_PENDING_32,
  PCI_MSI_PENDING_64,
  PCI_PM_CTRL,
  PCI_PM_CTRL_NO_SOFT_RESET,
  PCI_PM_CTRL_STATE_MASK,
  PCI_ROM_ADDRESS,
  PCI_STATUS,
  PCI_STATUS_INTERRUPT,
  PCI_STD_HEADER_SIZEOF,
} from "./regs.js";
import type { BarDef, ConfigImage, ConfigSpec, RomDef } from "./spec.js";
import {
  type BarState,
  barAddress,
  type MsiState,
  type MsixState,
  type PowerState,
  type RomState,
  readMsi,
  readMsix,
  readRom,
} from "./state.js";
import { type CapabilityInfo, walkCapabilities } from "./walk.js";

/** The per-byte permissions in force at one offset. */
export interface BytePermissions {
  readonly owned: boolean;
  readonly virt: number;
  readonly write: number;
  readonly rw1c: number;
  readonly strobe: number;
}

/**
 * Config space served with VFIO semantics: a shadow image, per-byte permissions, BAR and ROM
 * sizing, MSI/MSI-X state, and the events a client write causes.
 */
export class ConfigSpace {
  /** 256 or 4096. */
  readonly size: number;
  /** Standard capabilities in list order, then extended ones. */
  readonly capabilities: readonly CapabilityInfo[];
  private readonly initial: Uint8Array;
  private readonly live: Uint8Array;
  private readonly perms: PermissionMap;
  private readonly regions: readonly (CapabilityInfo | "header")[];
  private readonly barDefs: readonly (BarDef | undefined)[];
  private readonly romDef: RomDef | undefined;
  private readonly watchers: readonly Watcher[];
  private readonly msiCap: CapabilityInfo | undefined;
  private readonly msixCap: CapabilityInfo | undefined;
  private readonly pmCap: CapabilityInfo | undefined;
  /** Offset of the DEVCTL byte whose strobe is Initiate-FLR, or -1. */
  private readonly flrByte: number;
  /**
   * MSI per-vector mask and pending dwords, when the layout has them. The flag bits
   * that place them are read-only, so they are located once instead of decoding the
   * capability on every interrupt.
   */
  private readonly msiVectorRegs: { mask: number; pending: number; capable: number } | undefined;

  /** Builds the spec and virtualizes it. */
  static fromSpec(spec: ConfigSpec): ConfigSpace {
    return new ConfigSpace(buildConfigSpace(spec));
  }

  /**
   * Virtualizes an image (from buildConfigSpace, or any type 0 image with its
   * BAR sizes). Throws VfioError EINVAL if the image is malformed.
   */
  constructor(image: ConfigImage) {
    const size = image.bytes.length;
    if (size !== PCI_CFG_SPACE_SIZE && size !== PCI_CFG_SPACE_EXP_SIZE) {
      throw new VfioError("EINVAL", `config space must be 256 or 4096 bytes, got ${size}`);
    }
    if ((image.bytes[PCI_HEADER_TYPE]! & PCI_HEADER_TYPE_MASK) !== 0) {
      throw new VfioError("EINVAL", "only type 0 (endpoint) headers are supported");
    }
    this.size = size;
    this.barDefs = validateBars(
      image.bars.map((d) => d && { kind: d.kind, size: d.size, prefetchable: d.prefetchable }),
    );
    this.romDef = validateRom(image.rom);
    const walk = walkCapabilities(image.bytes);
    if (walk.problems.length > 0)
      throw new VfioError("EINVAL", `bad capability list: ${walk.problems[0]}`);
    this.capabilities = [...walk.standard, ...walk.extended];
    const first = (id: number) => walk.standard.find((c) => c.id === id);
    this.msiCap = first(PCI_CAP_ID_MSI);
    const msi = this.msiCap ? readMsi(image.bytes, this.msiCap.offset) : undefined;
    this.msiVectorRegs = msi?.perVectorMask
      ? {
          mask: msi.offset + (msi.addr64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32),
          pending: msi.offset + (msi.addr64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32),
          capable: msi.capableVectors,
        }
      : undefined;
    this.msixCap = first(PCI_CAP_ID_MSIX);
    this.pmCap = first(PCI_CAP_ID_PM);
    const exp = first(PCI_CAP_ID_EXP);

    const regions: Region[] = [
      {
        name: "header",
        offset: 0,
        length: PCI_STD_HEADER_SIZEOF,
        table: headerTable(this.barDefs, this.romDef, !!exp),
      },
    ];
    for (const c of this.capabilities) {
      const tableOf = (c.extended ? EXTENDED_TABLES : STANDARD_TABLES).get(c.id);
      regions.push({
        name: `${c.extended ? "extended " : ""}capability ${hex(c.id)} at ${hex(c.offset)}`,
        offset: c.offset,
        length: c.length,
        table: tableOf ? tableOf(image.bytes, c.offset, c.length) : [],
      });
    }
    this.perms = compilePermissions(size, regions);
    this.regions = ["header", ...this.capabilities];
    this.flrByte =
      exp && this.perms.strobe[exp.offset + PCI_EXP_DEVCTL + 1]
        ? exp.offset + PCI_EXP_DEVCTL + 1
        : -1;

    this.initial = this.normalize(image.bytes);
    this.live = this.initial.slice();
    this.watchers = buildWatchers(
      this,
      this.barDefs.flatMap((d) => (d ? [d.index] : [])),
      this.romDef !== undefined,
      { msi: this.msiCap, msix: this.msixCap, pm: this.pmCap },
    );
  }

  /**
   * The reset image: unowned bytes 0, BARs at address 0 with their type bits,
   * ROM disabled at 0, INTx deasserted, strobes clear.
   */
  private normalize(bytes: Uint8Array): Uint8Array {
    const b = bytes.slice();
    for (let o = 0; o < b.length; o++) {
      if (this.perms.owner[o] === -1) b[o] = 0;
      b[o]! &= ~this.perms.strobe[o]!;
    }
    for (let i = 0; i < this.barDefs.length; i++) {
      const d = this.barDefs[i];
      if (!d && this.barDefs[i - 1]?.kind !== "mem64") setU32(b, PCI_BASE_ADDRESS_0 + 4 * i, 0);
      if (!d) continue;
      const [lo, hi] = barWriteMasks(d);
      setU32(
        b,
        PCI_BASE_ADDRESS_0 + 4 * i,
        ((getU32(b, PCI_BASE_ADDRESS_0 + 4 * i) & lo) | barTypeBits(d)) >>> 0,
      );
      if (d.kind === "mem64")
        setU32(
          b,
          PCI_BASE_ADDRESS_0 + 4 * i + 4,
          (getU32(b, PCI_BASE_ADDRESS_0 + 4 * i + 4) & hi) >>> 0,
        );
    }
    setU32(b, PCI_ROM_ADDRESS, (getU32(b, PCI_ROM_ADDRESS) & romWriteMask(this.romDef)) >>> 0);
    b[PCI_STATUS]! &= ~PCI_STATUS_INTERRUPT;
    return b;
  }

  private checkRange(offset: number, length: number): void {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw new VfioError(
        "EINVAL",
        `config access [${offset}, +${length}) is outside the ${this.size}-byte config space`,
      );
    }
  }

  /** Reads `length` bytes at any offset; unowned bytes read 0. */
  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    // Unowned bytes are 0 in the live image and no path ever writes them.
    return this.live.slice(offset, offset + length);
  }

  /** A client write through the permission tables; returns what changed. */
  write(offset: number, data: Uint8Array): ConfigEvent[] {
    this.checkRange(offset, data.length);
    const end = offset + data.length;
    const pending = this.watchers
      .filter((w) => w.start < end && offset < w.end)
      .map((w) => w.begin());
    let flr = false;
    for (let i = 0; i < data.length; i++) {
      const o = offset + i;
      const v = data[i]!;
      if (this.perms.owner[o] === -1) continue;
      const old = this.live[o]!;
      const w = this.perms.write[o]!;
      let next = ((old & ~w) | (v & w)) & ~(v & this.perms.rw1c[o]!) & 0xff;
      const filter = this.perms.filters.get(o);
      // A filter may only refine writable bits; read-only bits stay as the masks left them.
      if (filter) next = (next & ~w) | (filter(next, old) & w);
      this.live[o] = next;
      if (o === this.flrByte && v & this.perms.strobe[o]!) flr = true;
    }
    const events: ConfigEvent[] = [];
    for (const finish of pending) {
      const e = finish();
      if (e) events.push(e);
    }
    if (flr) events.push({ kind: "flr" });
    return events;
  }

  /** Reads one byte as the client sees it. */
  readU8(offset: number): number {
    return this.read(offset, 1)[0]!;
  }
  /** Reads a little-endian word as the client sees it. */
  readU16(offset: number): number {
    return getLE(this.read(offset, 2), 0, 2);
  }
  /** Reads a little-endian dword as the client sees it. */
  readU32(offset: number): number {
    return getLE(this.read(offset, 4), 0, 4);
  }
  /** A client's byte write; returns what it changed. */
  writeU8(offset: number, value: number): ConfigEvent[] {
    return this.write(offset, toLE(value, 1));
  }
  /** A client's word write; returns what it changed. */
  writeU16(offset: number, value: number): ConfigEvent[] {
    return this.write(offset, toLE(value, 2));
  }
  /** A client's dword write; returns what it changed. */
  writeU32(offset: number, value: number): ConfigEvent[] {
    return this.write(offset, toLE(value, 4));
  }

  /**
   * The device model updating its own ("hardware") bits: only non-virtualized
   * bits change (error status, pending bits, logs, vendor payloads). Produces
   * no events: events describe what the client did.
   */
  deviceWrite(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    for (let i = 0; i < data.length; i++) {
      const o = offset + i;
      if (this.perms.owner[o] === -1) continue;
      const dev = ~this.perms.virt[o]! & 0xff;
      this.live[o] = (this.live[o]! & ~dev) | (data[i]! & dev);
    }
  }

  /** Restores the initial image: nothing a client programmed survives. */
  reset(): void {
    this.live.set(this.initial);
  }

  /** Copy of the live image. */
  snapshot(): Uint8Array {
    return this.live.slice();
  }

  /**
   * Puts back a live image taken with snapshot() from a device built the same way
   * (migration). The caller checks the identity; produces no events, as a restore is
   * not something a client did.
   */
  restore(live: Uint8Array): void {
    if (live.byteLength !== this.size) {
      throw new VfioError(
        "EINVAL",
        `config image of ${live.byteLength} bytes, expected ${this.size}`,
      );
    }
    this.live.set(live);
  }

  /** Copy of the image reset() restores. */
  initialImage(): Uint8Array {
    return this.initial.slice();
  }

  get command(): number {
    return getU16(this.live, PCI_COMMAND);
  }
  get ioEnabled(): boolean {
    return (this.command & PCI_COMMAND_IO) !== 0;
  }
  get memoryEnabled(): boolean {
    return (this.command & PCI_COMMAND_MEMORY) !== 0;
  }
  get busMasterEnabled(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }
  get intxDisabled(): boolean {
    return (this.command & PCI_COMMAND_INTX_DISABLE) !== 0;
  }

  get intxAsserted(): boolean {
    return (this.live[PCI_STATUS]! & PCI_STATUS_INTERRUPT) !== 0;
  }
  /** The device layer's INTx line level, mirrored in STATUS.INTERRUPT (regardless of INTX_DISABLE). */
  setIntxAsserted(asserted: boolean): void {
    if (asserted) this.live[PCI_STATUS]! |= PCI_STATUS_INTERRUPT;
    else this.live[PCI_STATUS]! &= ~PCI_STATUS_INTERRUPT;
  }

  /** BAR `index` (size, kind and programmed address), or undefined if it is not implemented. */
  bar(index: number): BarState | undefined {
    const d = this.barDefs[index];
    if (!d) return undefined;
    return { ...d, address: barAddress(this.live, index, d.kind) };
  }
  /** Implemented BARs (a 64-bit BAR appears once, at its lower index). */
  bars(): BarState[] {
    return this.barDefs.flatMap((d) => (d ? [this.bar(d.index)!] : []));
  }
  /** The expansion ROM's size, address and enable, or undefined without a ROM. */
  rom(): RomState | undefined {
    return this.romDef ? readRom(this.live, this.romDef.size) : undefined;
  }

  /** The MSI capability's programmed state, or undefined without MSI. */
  msi(): MsiState | undefined {
    return this.msiCap ? readMsi(this.live, this.msiCap.offset) : undefined;
  }
  /** Address and data that MSI vector `vector` (< enabledVectors) signals. */
  msiMessage(vector: number): { address: bigint; data: number } {
    const s = this.msi();
    if (!s || !Number.isInteger(vector) || vector < 0 || vector >= s.enabledVectors) {
      throw new VfioError("EINVAL", `MSI vector ${vector} is not enabled`);
    }
    return { address: s.address, data: ((s.data & ~(s.enabledVectors - 1)) | vector) & 0xffff };
  }
  /** Whether the client masked MSI vector `vector` (always false without per-vector masking). */
  msiMasked(vector: number): boolean {
    const r = this.msiVectorRegs;
    return !!r && vector >= 0 && vector < 32 && ((getU32(this.live, r.mask) >>> vector) & 1) === 1;
  }
  /** Whether MSI vector `vector`'s pending bit is set (always false without per-vector masking). */
  msiPending(vector: number): boolean {
    const r = this.msiVectorRegs;
    return (
      !!r && vector >= 0 && vector < 32 && ((getU32(this.live, r.pending) >>> vector) & 1) === 1
    );
  }
  /** Sets or clears an MSI pending bit (per-vector-masking layouts only). */
  setMsiPending(vector: number, pending: boolean): void {
    const r = this.msiVectorRegs;
    if (!r || !Number.isInteger(vector) || vector < 0 || vector >= r.capable) {
      throw new VfioError("EINVAL", `MSI vector ${vector} has no pending bit`);
    }
    const off = r.pending + (vector >> 3);
    const bit = 1 << (vector & 7);
    this.live[off] = pending ? this.live[off]! | bit : this.live[off]! & ~bit;
  }
  /** The MSI-X capability's state, or undefined without MSI-X. */
  msix(): MsixState | undefined {
    return this.msixCap ? readMsix(this.live, this.msixCap.offset) : undefined;
  }

  /** PMCSR PowerState (D0 without a PM capability). */
  get powerState(): PowerState {
    return this.pmCap
      ? ((this.live[this.pmCap.offset + PCI_PM_CTRL]! & PCI_PM_CTRL_STATE_MASK) as PowerState)
      : 0;
  }
  get noSoftReset(): boolean {
    return (
      !!this.pmCap &&
      (this.live[this.pmCap.offset + PCI_PM_CTRL]! & PCI_PM_CTRL_NO_SOFT_RESET) !== 0
    );
  }

  /** The first capability with `id` (standard, or extended when `extended`). */
  findCapability(id: number, extended = false): CapabilityInfo | undefined {
    return this.capabilities.find((c) => c.id === id && c.extended === extended);
  }
  /** Which region owns a byte: "header", a capability, or undefined. */
  ownerAt(offset: number): CapabilityInfo | "header" | undefined {
    this.checkRange(offset, 1);
    const r = this.perms.owner[offset]!;
    return r < 0 ? undefined : this.regions[r];
  }
  /** Name of the field a byte belongs to (for traces), e.g. "COMMAND", "MSI data". */
  fieldAt(offset: number): string | undefined {
    this.checkRange(offset, 1);
    const f = this.perms.field[offset]!;
    return f < 0 ? undefined : this.perms.fields[f]!.name;
  }
  /** The permission masks in force at config byte `offset` (for tests and traces). */
  permissionsAt(offset: number): BytePermissions {
    this.checkRange(offset, 1);
    const p = this.perms;
    return {
      owned: p.owner[offset] !== -1,
      virt: p.virt[offset]!,
      write: p.write[offset]!,
      rw1c: p.rw1c[offset]!,
      strobe: p.strobe[offset]!,
    };
  }
}
