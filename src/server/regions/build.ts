import { VfioError } from "../../errors.js";
import type { MsixState } from "../../pci/index.js";
import { regionName } from "../../protocol/index.js";
import type { DeviceContext, DeviceDefinition, MmapArea } from "../device.js";
import type { DecodeState } from "../mmio-gate.js";
import { MSIX_MAX_VECTORS, PCI_MSIX_ENTRY_SIZE, pbaSize } from "../msix-table.js";
import { BarRegion, type MsixPart } from "./bar-region.js";
import { mmapAreas } from "./mmap-areas.js";
import { DeviceSpecificRegion, RomRegion, VgaRegion } from "./other-regions.js";
import { absentRegion, MAX_REGION_SIZE, type Region } from "./region.js";
import { SharedMemory } from "./shared-memory.js";

/** Config space as region 7 needs it. */
export interface ConfigAccess {
  readonly size: number;
  read(offset: number, size: number): Uint8Array;
  write(offset: number, data: Uint8Array): void | Promise<void>;
}

export interface BuildContext {
  /** What the device's handlers receive. */
  readonly device: DeviceContext;
  readonly decode: () => DecodeState;
  readonly config: ConfigAccess;
  readonly msix:
    | {
        readonly state: MsixState;
        readTable(offset: number, size: number): Uint8Array;
        writeTable(offset: number, data: Uint8Array): void;
        readPba(offset: number, size: number): Uint8Array;
      }
    | undefined;
}

export interface BuiltRegions {
  readonly regions: Region[];
  readonly barMemory: (SharedMemory | undefined)[];
  readonly regionMemory: Map<number, SharedMemory>;
}

/**
 * Lays out the VFIO regions of a device: BARs 0-5, ROM 6, config 7, VGA 8 (absent
 * unless declared) and device-specific regions from 9. Shared memory is created here;
 * if anything is invalid, what was created is released before the error propagates.
 */
export function buildRegions(def: DeviceDefinition, ctx: BuildContext): BuiltRegions {
  const barMemory: (SharedMemory | undefined)[] = new Array(6).fill(undefined);
  const regionMemory = new Map<number, SharedMemory>();
  try {
    const regions: Region[] = [];
    for (let i = 0; i < 6; i++) regions.push(buildBar(def, i, ctx, barMemory));
    regions.push(def.rom ? buildRom(def.rom, ctx) : absentRegion(6, "ROM"));
    regions.push(configRegion(ctx.config));
    regions.push(def.vga ? new VgaRegion(def.vga, ctx.device, ctx.decode) : absentRegion(8, "VGA"));
    (def.regions ?? []).forEach((r, k) => {
      const index = 9 + k;
      const size = regionSize(r.size, `region ${index}`);
      let memory: SharedMemory | undefined;
      if (r.mmap) {
        memory = new SharedMemory(`region${index}`, size);
        regionMemory.set(index, memory);
      }
      regions.push(new DeviceSpecificRegion(index, r, ctx.device, size, memory));
    });
    return { regions, barMemory, regionMemory };
  } catch (err) {
    for (const m of barMemory) m?.close();
    for (const m of regionMemory.values()) m.close();
    throw err;
  }
}

function buildBar(
  def: DeviceDefinition,
  index: number,
  ctx: BuildContext,
  memories: (SharedMemory | undefined)[],
): Region {
  const bar = def.bars?.[index];
  const what = regionName(index);
  if (!bar) return absentRegion(index, what);
  const size = regionSize(bar.size, what);
  const msix = msixPart(index, ctx);
  let sparse: MmapArea[] | undefined;
  let memory: SharedMemory | undefined;
  if (bar.mmap) {
    if (bar.kind === "io") throw new VfioError("EINVAL", `${what}: I/O BARs cannot be mmapped`);
    const trapped = [msix?.table, msix?.pba].filter((t): t is MmapArea => t !== undefined);
    sparse = mmapAreas(what, size, bar.mmap === true ? true : bar.mmap, trapped);
    if (sparse !== undefined && sparse.length === 0) {
      throw new VfioError("EINVAL", `${what}: nothing is left to mmap beside the MSI-X structures`);
    }
    memory = new SharedMemory(what, size);
    memories[index] = memory;
  }
  return new BarRegion({
    index,
    size,
    space: bar.kind === "io" ? "io" : "memory",
    handlers: bar,
    device: ctx.device,
    decode: ctx.decode,
    memory,
    sparse,
    msix,
  });
}

function msixPart(index: number, ctx: BuildContext): MsixPart | undefined {
  const m = ctx.msix;
  if (!m) return undefined;
  const s = m.state;
  if (s.tableSize > MSIX_MAX_VECTORS) throw new VfioError("EINVAL", "MSI-X table too large");
  const table =
    s.tableBar === index
      ? { offset: s.tableOffset, size: s.tableSize * PCI_MSIX_ENTRY_SIZE }
      : undefined;
  const pba = s.pbaBar === index ? { offset: s.pbaOffset, size: pbaSize(s.tableSize) } : undefined;
  if (!table && !pba) return undefined;
  return { table, pba, readTable: m.readTable, writeTable: m.writeTable, readPba: m.readPba };
}

function buildRom(rom: NonNullable<DeviceDefinition["rom"]>, ctx: BuildContext): Region {
  const size = romSizeOf(rom);
  if (rom.data && rom.data.byteLength > size) {
    throw new VfioError(
      "EINVAL",
      `ROM data of ${rom.data.byteLength} bytes exceeds its ${size}-byte size`,
    );
  }
  return new RomRegion(rom, ctx.device, size, ctx.decode);
}

/** ROM size: declared, or the data rounded up to a power of two of at least 2 KiB. */
export function romSizeOf(rom: NonNullable<DeviceDefinition["rom"]>): number {
  if (rom.size !== undefined) return rom.size;
  let size = 2048;
  while (size < (rom.data?.byteLength ?? 0)) size *= 2;
  return size;
}

function configRegion(c: ConfigAccess): Region {
  return {
    index: 7,
    name: "config",
    size: c.size,
    readable: true,
    writable: true,
    mmap: undefined,
    typeCap: undefined,
    read: (o, n) => c.read(o, n),
    write: (o, d) => c.write(o, d),
  };
}

function regionSize(v: number | bigint, what: string): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_REGION_SIZE) {
    throw new VfioError(
      "EINVAL",
      `${what}: size ${String(v)} must be a positive integer up to 2^52`,
    );
  }
  return n;
}
