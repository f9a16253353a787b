/**
 * Bounds on what a device may tell its driver. The device side is untrusted (a
 * vfio-user server is another process, possibly hostile or buggy), so every count and
 * size it reports is checked before the driver sizes anything by it. A violation is an
 * EPROTO VfioError naming the field, never a crash or a huge allocation.
 */
import { VfioError } from "../errors.js";
import type { DeviceInfo, IrqInfo, MmapArea, RegionInfo } from "./backend.js";
import {
  irqIndexName,
  regionName,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
} from "./vfio-abi.js";

/** More regions than vfio-pci's 9 plus generous device-specific ones is not a device. */
export const MAX_REGIONS = 64;
/** vfio-pci has 5 IRQ indexes; leave room for device-specific ones. */
export const MAX_IRQ_INDEXES = 32;
/** PCIe extended config space. */
export const MAX_CONFIG_SIZE = 4096;
/** Largest region we accept: 2^52 bytes (a 4 PiB BAR), well past real hardware. */
export const MAX_REGION_SIZE = 1n << 52n;
/** Largest single mmap area: what fits one ArrayBuffer. */
export const MAX_MMAP_AREA = BigInt(Number.MAX_SAFE_INTEGER);
/** Most mmap areas one region may report; more is treated as a hostile server (EPROTO). */
export const MAX_MMAP_AREAS = 64;
const PAGE = 4096n;

/** Vectors per IRQ index that the PCI spec allows. */
export function maxVectors(index: number): number {
  switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
    case VFIO_PCI_ERR_IRQ_INDEX:
    case VFIO_PCI_REQ_IRQ_INDEX:
      return 1;
    case VFIO_PCI_MSI_IRQ_INDEX:
      return 32;
    default:
      return 2048;
  }
}

function bad(message: string): never {
  throw new VfioError("EPROTO", `untrusted device reply rejected: ${message}`);
}

export function checkDeviceInfo(info: DeviceInfo): DeviceInfo {
  if (!Number.isInteger(info.numRegions) || info.numRegions < 0 || info.numRegions > MAX_REGIONS) {
    bad(`DEVICE_GET_INFO num_regions ${info.numRegions} is outside [0, ${MAX_REGIONS}]`);
  }
  if (!Number.isInteger(info.numIrqs) || info.numIrqs < 0 || info.numIrqs > MAX_IRQ_INDEXES) {
    bad(`DEVICE_GET_INFO num_irqs ${info.numIrqs} is outside [0, ${MAX_IRQ_INDEXES}]`);
  }
  if (
    (info.flags & VFIO_DEVICE_FLAGS_PCI) !== 0 &&
    info.numRegions <= VFIO_PCI_CONFIG_REGION_INDEX
  ) {
    bad(`DEVICE_GET_INFO says PCI but reports ${info.numRegions} regions (no config region)`);
  }
  return info;
}

/**
 * Checks a region's info. `mmapAreas` must lie inside the region, be page aligned
 * (relative to the mmap offset) and not overlap; a config region is at most 4 KiB.
 */
export function checkRegionInfo(index: number, info: RegionInfo, pci: boolean): RegionInfo {
  const name = regionName(index);
  if (info.index !== index) bad(`REGION_INFO for ${name} describes region ${info.index}`);
  if (typeof info.size !== "bigint" || info.size < 0n || info.size > MAX_REGION_SIZE) {
    bad(`REGION_INFO ${name} size ${info.size} is outside [0, 2^52]`);
  }
  if (pci && index === VFIO_PCI_CONFIG_REGION_INDEX && info.size > BigInt(MAX_CONFIG_SIZE)) {
    bad(`REGION_INFO config space size ${info.size} exceeds ${MAX_CONFIG_SIZE}`);
  }
  if (info.mmapAreas.length > MAX_MMAP_AREAS) {
    bad(
      `REGION_INFO ${name} lists ${info.mmapAreas.length} mmap areas (at most ${MAX_MMAP_AREAS})`,
    );
  }
  const areas: MmapArea[] = [...info.mmapAreas].sort((a, b) => (a.offset < b.offset ? -1 : 1));
  let end = 0n;
  for (const a of areas) {
    const what = `REGION_INFO ${name} mmap area [${a.offset}, +${a.size})`;
    if (a.size <= 0n || a.size > MAX_MMAP_AREA) bad(`${what} has a bad size`);
    if (a.offset < end) bad(`${what} overlaps another area`);
    if (a.offset + a.size > info.size) bad(`${what} runs past the ${info.size}-byte region`);
    if ((info.offset + a.offset) % PAGE !== 0n) bad(`${what} is not page aligned`);
    end = a.offset + a.size;
  }
  if (areas.length > 0 && info.fd < 0)
    bad(`REGION_INFO ${name} is mappable but came without an fd`);
  return { ...info, mmapAreas: areas };
}

export function checkIrqInfo(index: number, info: IrqInfo): IrqInfo {
  const name = irqIndexName(index);
  if (info.index !== index) bad(`IRQ_INFO for ${name} describes index ${info.index}`);
  const max = maxVectors(index);
  if (!Number.isInteger(info.count) || info.count < 0 || info.count > max) {
    bad(`IRQ_INFO ${name} count ${info.count} is outside [0, ${max}]`);
  }
  return info;
}
