/**
 * A small built-in subset of the PCI ID database (pci.ids): every base class,
 * the common subclasses and programming interfaces, and a few vendors. lspci
 * falls back to numbers for what its database lacks; so do we, in its format.
 */
import { hex } from "./format.js";

const BASE_CLASSES = new Map<number, string>([
  [0x00, "Unclassified device"],
  [0x01, "Mass storage controller"],
  [0x02, "Network controller"],
  [0x03, "Display controller"],
  [0x04, "Multimedia controller"],
  [0x05, "Memory controller"],
  [0x06, "Bridge"],
  [0x07, "Communication controller"],
  [0x08, "Generic system peripheral"],
  [0x09, "Input device controller"],
  [0x0a, "Docking station"],
  [0x0b, "Processor"],
  [0x0c, "Serial bus controller"],
  [0x0d, "Wireless controller"],
  [0x0e, "Intelligent controller"],
  [0x0f, "Satellite communications controller"],
  [0x10, "Encryption controller"],
  [0x11, "Signal processing controller"],
  [0x12, "Processing accelerators"],
  [0x13, "Non-Essential Instrumentation"],
  [0x40, "Coprocessor"],
  [0xff, "Unassigned class"],
]);

/** Keyed by base class << 8 | subclass. */
const SUBCLASSES = new Map<number, string>([
  [0x0000, "Non-VGA unclassified device"],
  [0x0001, "VGA compatible unclassified device"],
  [0x0005, "Image coprocessor"],
  [0x0100, "SCSI storage controller"],
  [0x0101, "IDE interface"],
  [0x0102, "Floppy disk controller"],
  [0x0103, "IPI bus controller"],
  [0x0104, "RAID bus controller"],
  [0x0105, "ATA controller"],
  [0x0106, "SATA controller"],
  [0x0107, "Serial Attached SCSI controller"],
  [0x0108, "Non-Volatile memory controller"],
  [0x0109, "Universal Flash Storage controller"],
  [0x0180, "Mass storage controller"],
  [0x0200, "Ethernet controller"],
  [0x0201, "Token ring network controller"],
  [0x0202, "FDDI network controller"],
  [0x0203, "ATM network controller"],
  [0x0204, "ISDN controller"],
  [0x0205, "WorldFip controller"],
  [0x0206, "PICMG controller"],
  [0x0207, "Infiniband controller"],
  [0x0208, "Fabric controller"],
  [0x0280, "Network controller"],
  [0x0300, "VGA compatible controller"],
  [0x0301, "XGA compatible controller"],
  [0x0302, "3D controller"],
  [0x0380, "Display controller"],
  [0x0400, "Multimedia video controller"],
  [0x0401, "Multimedia audio controller"],
  [0x0402, "Computer telephony device"],
  [0x0403, "Audio device"],
  [0x0480, "Multimedia controller"],
  [0x0500, "RAM memory"],
  [0x0501, "FLASH memory"],
  [0x0502, "CXL"],
  [0x0580, "Memory controller"],
  [0x0600, "Host bridge"],
  [0x0601, "ISA bridge"],
  [0x0602, "EISA bridge"],
  [0x0603, "MicroChannel bridge"],
  [0x0604, "PCI bridge"],
  [0x0605, "PCMCIA bridge"],
  [0x0606, "NuBus bridge"],
  [0x0607, "CardBus bridge"],
  [0x0608, "RACEway bridge"],
  [0x0609, "Semi-transparent PCI-to-PCI bridge"],
  [0x060a, "InfiniBand to PCI host bridge"],
  [0x0680, "Bridge"],
  [0x0700, "Serial controller"],
  [0x0701, "Parallel controller"],
  [0x0702, "Multiport serial controller"],
  [0x0703, "Modem"],
  [0x0704, "GPIB controller"],
  [0x0705, "Smart Card controller"],
  [0x0780, "Communication controller"],
  [0x0800, "PIC"],
  [0x0801, "DMA controller"],
  [0x0802, "Timer"],
  [0x0803, "RTC"],
  [0x0804, "PCI Hot-plug controller"],
  [0x0805, "SD Host controller"],
  [0x0806, "IOMMU"],
  [0x0880, "System peripheral"],
  [0x0900, "Keyboard controller"],
  [0x0901, "Digitizer Pen"],
  [0x0902, "Mouse controller"],
  [0x0903, "Scanner controller"],
  [0x0904, "Gameport controller"],
  [0x0980, "Input device controller"],
  [0x0a00, "Generic Docking Station"],
  [0x0a80, "Docking Station"],
  [0x0b40, "Co-processor"],
  [0x0c00, "FireWire (IEEE 1394)"],
  [0x0c01, "ACCESS Bus"],
  [0x0c02, "SSA"],
  [0x0c03, "USB controller"],
  [0x0c04, "Fibre Channel"],
  [0x0c05, "SMBus"],
  [0x0c06, "InfiniBand"],
  [0x0c07, "IPMI Interface"],
  [0x0c08, "SERCOS interface"],
  [0x0c09, "CANBUS"],
  [0x0c80, "Serial bus controller"],
  [0x0d00, "IRDA controller"],
  [0x0d01, "Consumer IR controller"],
  [0x0d10, "RF controller"],
  [0x0d11, "Bluetooth"],
  [0x0d12, "Broadband"],
  [0x0d80, "Wireless controller"],
  [0x0e00, "I2O"],
  [0x1000, "Network and computing encryption device"],
  [0x1010, "Entertainment encryption device"],
  [0x1080, "Encryption controller"],
  [0x1100, "DPIO module"],
  [0x1101, "Performance counters"],
  [0x1110, "Communication synchronizer"],
  [0x1120, "Signal processing management"],
  [0x1180, "Signal processing controller"],
  [0x1200, "Processing accelerators"],
]);

/** Keyed by the whole 24-bit class code. */
const PROG_IFS = new Map<number, string>([
  [0x010601, "AHCI 1.0"],
  [0x010802, "NVM Express"],
  [0x030000, "VGA controller"],
  [0x030001, "8514 controller"],
  [0x070002, "16550"],
  [0x0c0300, "UHCI"],
  [0x0c0310, "OHCI"],
  [0x0c0320, "EHCI"],
  [0x0c0330, "XHCI"],
  [0x0c03fe, "USB Device"],
]);

const VENDORS = new Map<number, string>([
  [0x1002, "Advanced Micro Devices, Inc. [AMD/ATI]"],
  [0x1022, "Advanced Micro Devices, Inc. [AMD]"],
  [0x10de, "NVIDIA Corporation"],
  [0x10ee, "Xilinx Corporation"],
  [0x15b3, "Mellanox Technologies"],
  [0x1af4, "Red Hat, Inc."],
  [0x1b36, "Red Hat, Inc."],
  [0x494f, "ACCES I/O Products, Inc."],
  [0x8086, "Intel Corporation"],
]);

/** Class name as lspci prints it: the subclass name, "Base [ccss]", or "Class ccss". */
/**
 * How lspci names ids: 0 names (its default), 1 numbers only (-n), 2 both (-nn), as
 * pciutils' format_name does.
 */
export type NameStyle = 0 | 1 | 2;

export function className(classCode: number, style: NameStyle = 0): string {
  const cls = (classCode >>> 8) & 0xffff;
  const num = hex(cls, 4);
  if (style === 1) return num;
  const sub = SUBCLASSES.get(cls);
  if (sub !== undefined) return style === 2 ? `${sub} [${num}]` : sub;
  // A known base class with an unknown subclass carries the number in every style.
  const base = BASE_CLASSES.get(cls >>> 8);
  if (base !== undefined) return `${base} [${num}]`;
  return style === 2 ? `Class [${num}]` : `Class ${num}`;
}

export function progIfName(classCode: number): string | undefined {
  return PROG_IFS.get(classCode & 0xffffff);
}

export function vendorName(vendorId: number): string | undefined {
  return VENDORS.get(vendorId);
}

/**
 * "Vendor Device dddd" when the vendor is known, else "Device vvvv:dddd" (lspci, no ids
 * file); "vvvv:dddd" with -n; the name and "[vvvv:dddd]" with -nn.
 */
export function deviceName(vendorId: number, deviceId: number, style: NameStyle = 0): string {
  const pair = `${hex(vendorId, 4)}:${hex(deviceId, 4)}`;
  if (style === 1) return pair;
  const vendor = vendorName(vendorId);
  if (style === 2) return vendor !== undefined ? `${vendor} Device [${pair}]` : `Device [${pair}]`;
  return vendor !== undefined ? `${vendor} Device ${hex(deviceId, 4)}` : `Device ${pair}`;
}
