/**
 * Names from Linux include/uapi/linux/pci_regs.h that vfio-ts uses, with the
 * same spelling so code reads like the kernel and the PCI specifications.
 * Offsets inside a capability are relative to the capability's start.
 */

/** Size of conventional config space and of PCI Express extended config space. */
export const PCI_CFG_SPACE_SIZE = 256;
/** Size of PCI Express config space, extended capabilities included (4 KiB). */
export const PCI_CFG_SPACE_EXP_SIZE = 4096;

// Type 0 header.
/** Header offset of the 16-bit vendor ID. */
export const PCI_VENDOR_ID = 0x00;
/** Header offset of the 16-bit device ID. */
export const PCI_DEVICE_ID = 0x02;
/** Header offset of the 16-bit command register, which gates decoding, DMA and INTx. */
export const PCI_COMMAND = 0x04;
/** Command bit: respond to I/O-space BAR accesses (I/O BARs fail with EIO while clear). */
export const PCI_COMMAND_IO = 0x0001;
/** Command bit: respond to memory BAR and ROM accesses (they fail with EIO while clear). */
export const PCI_COMMAND_MEMORY = 0x0002;
/** Command bit: bus master, the device may DMA and send MSI/MSI-X messages. */
export const PCI_COMMAND_MASTER = 0x0004;
/** Command bit: respond to special cycles (legacy PCI). */
export const PCI_COMMAND_SPECIAL = 0x0008;
/** Command bit: memory write and invalidate (legacy PCI). */
export const PCI_COMMAND_INVALIDATE = 0x0010;
/** Command bit: VGA palette snooping (legacy PCI). */
export const PCI_COMMAND_VGA_PALETTE = 0x0020;
/** Command bit: report parity errors. */
export const PCI_COMMAND_PARITY = 0x0040;
/** Command bit: address/data stepping (legacy PCI). */
export const PCI_COMMAND_WAIT = 0x0080;
/** Command bit: enable SERR# reporting of system errors. */
export const PCI_COMMAND_SERR = 0x0100;
/** Command bit: fast back-to-back transactions (legacy PCI). */
export const PCI_COMMAND_FAST_BACK = 0x0200;
/** Command bit: INTx disable; the device must not assert its INTx line while set. */
export const PCI_COMMAND_INTX_DISABLE = 0x0400;

/** Header offset of the 16-bit status register. */
export const PCI_STATUS = 0x06;
/** Status bit: immediate readiness after reset. */
export const PCI_STATUS_IMM_READY = 0x0001;
/** Status bit: the INTx line is asserted (reflects INTx state even while disabled). */
export const PCI_STATUS_INTERRUPT = 0x0008;
/** Status bit: a capability list starts at PCI_CAPABILITY_LIST. */
export const PCI_STATUS_CAP_LIST = 0x0010;
/** Status bit: 66 MHz capable (legacy PCI). */
export const PCI_STATUS_66MHZ = 0x0020;
/** Status bit: fast back-to-back capable (legacy PCI). */
export const PCI_STATUS_FAST_BACK = 0x0080;
/** Status bit: master data parity error (write 1 to clear). */
export const PCI_STATUS_PARITY = 0x0100;
/** Status field: DEVSEL timing (legacy PCI). */
export const PCI_STATUS_DEVSEL_MASK = 0x0600;
/** Status bit: the device signalled a target abort (write 1 to clear). */
export const PCI_STATUS_SIG_TARGET_ABORT = 0x0800;
/** Status bit: the device received a target abort (write 1 to clear). */
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
/** Status bit: the device received a master abort (write 1 to clear). */
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
/** Status bit: the device signalled a system error (write 1 to clear). */
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
/** Status bit: the device detected a parity error (write 1 to clear). */
export const PCI_STATUS_DETECTED_PARITY = 0x8000;
/** The status bits a device sets on errors and software clears by writing 1. */
export const PCI_STATUS_ERROR_BITS =
  PCI_STATUS_PARITY |
  PCI_STATUS_SIG_TARGET_ABORT |
  PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT |
  PCI_STATUS_SIG_SYSTEM_ERROR |
  PCI_STATUS_DETECTED_PARITY;

/** Header offset of the dword holding the revision ID and the 24-bit class code. */
export const PCI_CLASS_REVISION = 0x08;
/** Header offset of the 8-bit revision ID. */
export const PCI_REVISION_ID = 0x08;
/** Header offset of the programming interface byte of the class code. */
export const PCI_CLASS_PROG = 0x09;
/** Header offset of the 16-bit base class and subclass. */
export const PCI_CLASS_DEVICE = 0x0a;
/** Header offset of the cache line size register. */
export const PCI_CACHE_LINE_SIZE = 0x0c;
/** Header offset of the latency timer register. */
export const PCI_LATENCY_TIMER = 0x0d;
/** Header offset of the header type byte (layout and multi-function bit). */
export const PCI_HEADER_TYPE = 0x0e;
/** Header type bits that give the layout (0 for an endpoint). */
export const PCI_HEADER_TYPE_MASK = 0x7f;
/** Header layout 0: an endpoint with six BARs, the only layout vfio-ts serves. */
export const PCI_HEADER_TYPE_NORMAL = 0;
/** Header type bit: a multi-function device. */
export const PCI_HEADER_TYPE_MFD = 0x80;
/** Header offset of the built-in self test register. */
export const PCI_BIST = 0x0f;

/** Header offset of BAR 0; the next BARs follow every 4 bytes. */
export const PCI_BASE_ADDRESS_0 = 0x10;
/** Header offset of BAR 1 (or the upper dword of a 64-bit BAR 0). */
export const PCI_BASE_ADDRESS_1 = 0x14;
/** Header offset of BAR 2. */
export const PCI_BASE_ADDRESS_2 = 0x18;
/** Header offset of BAR 3 (or the upper dword of a 64-bit BAR 2). */
export const PCI_BASE_ADDRESS_3 = 0x1c;
/** Header offset of BAR 4. */
export const PCI_BASE_ADDRESS_4 = 0x20;
/** Header offset of BAR 5 (or the upper dword of a 64-bit BAR 4). */
export const PCI_BASE_ADDRESS_5 = 0x24;
/** Number of BARs in a type 0 header. */
export const PCI_STD_NUM_BARS = 6;
/** BAR bit 0: which address space the BAR decodes. */
export const PCI_BASE_ADDRESS_SPACE = 0x01;
/** BAR bit 0 set: an I/O BAR. */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
/** BAR bit 0 clear: a memory BAR. */
export const PCI_BASE_ADDRESS_SPACE_MEMORY = 0x00;
/** Memory BAR bits that give its width. */
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x06;
/** Memory BAR type: 32-bit address. */
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x00;
/** Memory BAR type: below 1 MiB (obsolete). */
export const PCI_BASE_ADDRESS_MEM_TYPE_1M = 0x02;
/** Memory BAR type: 64-bit address, the next BAR holds the upper dword. */
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
/** Memory BAR bit: prefetchable (reads have no side effects). */
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
/** Address bits of a memory BAR (the low 4 bits are flags). */
export const PCI_BASE_ADDRESS_MEM_MASK = 0xfffffff0;
/** Address bits of an I/O BAR (the low 2 bits are flags). */
export const PCI_BASE_ADDRESS_IO_MASK = 0xfffffffc;

/** Header offset of the CardBus CIS pointer. */
export const PCI_CARDBUS_CIS = 0x28;
/** Header offset of the subsystem vendor ID. */
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
/** Header offset of the subsystem ID. */
export const PCI_SUBSYSTEM_ID = 0x2e;
/** Header offset of the expansion ROM BAR. */
export const PCI_ROM_ADDRESS = 0x30;
/** ROM BAR bit: decode the ROM (with PCI_COMMAND_MEMORY). */
export const PCI_ROM_ADDRESS_ENABLE = 0x01;
/** Address bits of the ROM BAR (2 KiB aligned). */
export const PCI_ROM_ADDRESS_MASK = 0xfffff800;
/** Header offset of the pointer to the first standard capability. */
export const PCI_CAPABILITY_LIST = 0x34;
/** Header offset of the interrupt line (scratch for the OS). */
export const PCI_INTERRUPT_LINE = 0x3c;
/** Header offset of the INTx pin (0 none, 1..4 INTA#..INTD#). */
export const PCI_INTERRUPT_PIN = 0x3d;
/** Header offset of the minimum grant (legacy PCI). */
export const PCI_MIN_GNT = 0x3e;
/** Header offset of the maximum latency (legacy PCI). */
export const PCI_MAX_LAT = 0x3f;
/** Size of the type 0 header; standard capabilities live in [0x40, 0x100). */
export const PCI_STD_HEADER_SIZEOF = 64;

// Standard capability list.
/** Capability offset of its ID byte. */
export const PCI_CAP_LIST_ID = 0;
/** Capability offset of the pointer to the next capability (0 ends the list). */
export const PCI_CAP_LIST_NEXT = 1;
/** Capability offset of its 16-bit flags, where most capabilities keep their control bits. */
export const PCI_CAP_FLAGS = 2;
/** Capability ID: power management. */
export const PCI_CAP_ID_PM = 0x01;
/** Capability ID: AGP. */
export const PCI_CAP_ID_AGP = 0x02;
/** Capability ID: vital product data. */
export const PCI_CAP_ID_VPD = 0x03;
/** Capability ID: slot identification. */
export const PCI_CAP_ID_SLOTID = 0x04;
/** Capability ID: MSI. */
export const PCI_CAP_ID_MSI = 0x05;
/** Capability ID: CompactPCI hot swap. */
export const PCI_CAP_ID_CHSWP = 0x06;
/** Capability ID: PCI-X. */
export const PCI_CAP_ID_PCIX = 0x07;
/** Capability ID: HyperTransport. */
export const PCI_CAP_ID_HT = 0x08;
/** Capability ID: vendor-specific. */
export const PCI_CAP_ID_VNDR = 0x09;
/** Capability ID: debug port. */
export const PCI_CAP_ID_DBG = 0x0a;
/** Capability ID: bridge subsystem vendor ID. */
export const PCI_CAP_ID_SSVID = 0x0d;
/** Capability ID: PCI Express. */
export const PCI_CAP_ID_EXP = 0x10;
/** Capability ID: MSI-X. */
export const PCI_CAP_ID_MSIX = 0x11;
/** Capability ID: advanced features (function-level reset on conventional PCI). */
export const PCI_CAP_ID_AF = 0x13;

// Power management (PCI PM 1.2).
/** PM capability offset of the power management capabilities register. */
export const PCI_PM_PMC = 2;
/** PMC field: the PM specification version. */
export const PCI_PM_CAP_VER_MASK = 0x0007;
/** PMC bit: PME needs the PCI clock. */
export const PCI_PM_CAP_PME_CLOCK = 0x0008;
/** PMC bit: the device needs device-specific initialization. */
export const PCI_PM_CAP_DSI = 0x0020;
/** PMC field: auxiliary current needed in D3cold. */
export const PCI_PM_CAP_AUX_POWER = 0x01c0;
/** PMC bit: D1 supported. */
export const PCI_PM_CAP_D1 = 0x0200;
/** PMC bit: D2 supported. */
export const PCI_PM_CAP_D2 = 0x0400;
/** PMC field: the power states PME can be signalled from. */
export const PCI_PM_CAP_PME_MASK = 0xf800;
/** Shift of the PME support field in PMC. */
export const PCI_PM_CAP_PME_SHIFT = 11;
/** PM capability offset of the control/status register (PMCSR). */
export const PCI_PM_CTRL = 4;
/** PMCSR field: the current power state D0..D3hot. */
export const PCI_PM_CTRL_STATE_MASK = 0x0003;
/** PMCSR bit: going D3hot to D0 does not reset the device. */
export const PCI_PM_CTRL_NO_SOFT_RESET = 0x0008;
/** PMCSR bit: PME generation enabled. */
export const PCI_PM_CTRL_PME_ENABLE = 0x0100;
/** PMCSR field: data register select. */
export const PCI_PM_CTRL_DATA_SEL_MASK = 0x1e00;
/** PMCSR field: data register scale. */
export const PCI_PM_CTRL_DATA_SCALE_MASK = 0x6000;
/** PMCSR bit: PME asserted (write 1 to clear). */
export const PCI_PM_CTRL_PME_STATUS = 0x8000;
/** PM capability offset of the bridge support extensions byte. */
export const PCI_PM_PPB_EXTENSIONS = 6;
/** PM capability offset of the data register. */
export const PCI_PM_DATA_REGISTER = 7;
/** Size of the PM capability. */
export const PCI_PM_SIZEOF = 8;

// MSI.
/** MSI capability offset of its message control register. */
export const PCI_MSI_FLAGS = 2;
/** MSI control bit: MSI enabled (INTx is then off). */
export const PCI_MSI_FLAGS_ENABLE = 0x0001;
/** MSI control field: log2 of the vectors the device can request. */
export const PCI_MSI_FLAGS_QMASK = 0x000e;
/** MSI control field: log2 of the vectors software enabled. */
export const PCI_MSI_FLAGS_QSIZE = 0x0070;
/** MSI control bit: 64-bit message address (the layout gains ADDRESS_HI). */
export const PCI_MSI_FLAGS_64BIT = 0x0080;
/** MSI control bit: per-vector masking (the layout gains mask and pending). */
export const PCI_MSI_FLAGS_MASKBIT = 0x0100;
/** MSI capability offset of the message address, low dword. */
export const PCI_MSI_ADDRESS_LO = 4;
/** MSI capability offset of the message address, high dword (64-bit layout). */
export const PCI_MSI_ADDRESS_HI = 8;
/** MSI capability offset of the message data in the 32-bit layout. */
export const PCI_MSI_DATA_32 = 8;
/** MSI capability offset of the mask bits in the 32-bit layout. */
export const PCI_MSI_MASK_32 = 12;
/** MSI capability offset of the pending bits in the 32-bit layout. */
export const PCI_MSI_PENDING_32 = 16;
/** MSI capability offset of the message data in the 64-bit layout. */
export const PCI_MSI_DATA_64 = 12;
/** MSI capability offset of the mask bits in the 64-bit layout. */
export const PCI_MSI_MASK_64 = 16;
/** MSI capability offset of the pending bits in the 64-bit layout. */
export const PCI_MSI_PENDING_64 = 20;

// MSI-X.
/** MSI-X capability offset of its message control register. */
export const PCI_MSIX_FLAGS = 2;
/** MSI-X control field: table size minus one. */
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
/** MSI-X control bit: function mask, every vector masked. */
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
/** MSI-X control bit: MSI-X enabled (INTx and MSI are then off). */
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
/** MSI-X capability offset of the table's BAR indicator and offset. */
export const PCI_MSIX_TABLE = 4;
/** Table register field: the BAR that holds the table. */
export const PCI_MSIX_TABLE_BIR = 0x00000007;
/** Table register field: the table's offset in that BAR (8-byte aligned). */
export const PCI_MSIX_TABLE_OFFSET = 0xfffffff8;
/** MSI-X capability offset of the pending bit array's BAR indicator and offset. */
export const PCI_MSIX_PBA = 8;
/** PBA register field: the BAR that holds the pending bit array. */
export const PCI_MSIX_PBA_BIR = 0x00000007;
/** PBA register field: the array's offset in that BAR (8-byte aligned). */
export const PCI_MSIX_PBA_OFFSET = 0xfffffff8;
/** Size of the MSI-X capability. */
export const PCI_CAP_MSIX_SIZEOF = 12;
/** Size of one MSI-X table entry. */
export const PCI_MSIX_ENTRY_SIZE = 16;
/** Table entry offset of the message address, low dword. */
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0;
/** Table entry offset of the message address, high dword. */
export const PCI_MSIX_ENTRY_UPPER_ADDR = 4;
/** Table entry offset of the message data. */
export const PCI_MSIX_ENTRY_DATA = 8;
/** Table entry offset of the vector control dword. */
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
/** Vector control bit: this vector is masked (a trigger only sets its pending bit). */
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x00000001;
/** Most MSI-X vectors a function can have. */
export const PCI_MSIX_MAX_VECTORS = 2048;

// Vendor-specific standard capability: id, next, then the capability's length.
/** Vendor capability offset of its length byte. */
export const PCI_CAP_VNDR_LEN = 2;

// PCI Express capability.
/** PCIe capability offset of its capabilities register (version, port type). */
export const PCI_EXP_FLAGS = 2;
/** PCIe flags field: capability version (1 or 2). */
export const PCI_EXP_FLAGS_VERS = 0x000f;
/** PCIe flags field: device/port type (PCI_EXP_TYPE_*). */
export const PCI_EXP_FLAGS_TYPE = 0x00f0;
/** PCIe flags bit: the port is connected to a slot. */
export const PCI_EXP_FLAGS_SLOT = 0x0100;
/** PCIe flags field: interrupt message number. */
export const PCI_EXP_FLAGS_IRQ = 0x3e00;
/** PCIe port type: endpoint. */
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
/** PCIe port type: legacy endpoint. */
export const PCI_EXP_TYPE_LEG_END = 0x1;
/** PCIe port type: root port. */
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
/** PCIe port type: upstream switch port. */
export const PCI_EXP_TYPE_UPSTREAM = 0x5;
/** PCIe port type: downstream switch port. */
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
/** PCIe port type: PCIe-to-PCI bridge. */
export const PCI_EXP_TYPE_PCI_BRIDGE = 0x7;
/** PCIe port type: PCI-to-PCIe bridge. */
export const PCI_EXP_TYPE_PCIE_BRIDGE = 0x8;
/** PCIe port type: root complex integrated endpoint. */
export const PCI_EXP_TYPE_RC_END = 0x9;
/** PCIe port type: root complex event collector. */
export const PCI_EXP_TYPE_RC_EC = 0xa;
/** PCIe capability offset of the device capabilities register. */
export const PCI_EXP_DEVCAP = 4;
/** DEVCAP field: maximum payload size supported. */
export const PCI_EXP_DEVCAP_PAYLOAD = 0x00000007;
/** DEVCAP field: phantom functions supported. */
export const PCI_EXP_DEVCAP_PHANTOM = 0x00000018;
/** DEVCAP bit: 8-bit tags supported. */
export const PCI_EXP_DEVCAP_EXT_TAG = 0x00000020;
/** DEVCAP field: acceptable L0s latency. */
export const PCI_EXP_DEVCAP_L0S = 0x000001c0;
/** DEVCAP field: acceptable L1 latency. */
export const PCI_EXP_DEVCAP_L1 = 0x00000e00;
/** DEVCAP bit: role-based error reporting. */
export const PCI_EXP_DEVCAP_RBER = 0x00008000;
/** DEVCAP bit: function-level reset supported. */
export const PCI_EXP_DEVCAP_FLR = 0x10000000;
/** PCIe capability offset of the device control register. */
export const PCI_EXP_DEVCTL = 8;
/** DEVCTL bit: correctable error reporting enabled. */
export const PCI_EXP_DEVCTL_CERE = 0x0001;
/** DEVCTL bit: non-fatal error reporting enabled. */
export const PCI_EXP_DEVCTL_NFERE = 0x0002;
/** DEVCTL bit: fatal error reporting enabled. */
export const PCI_EXP_DEVCTL_FERE = 0x0004;
/** DEVCTL bit: unsupported request reporting enabled. */
export const PCI_EXP_DEVCTL_URRE = 0x0008;
/** DEVCTL bit: relaxed ordering enabled. */
export const PCI_EXP_DEVCTL_RELAX_EN = 0x0010;
/** DEVCTL field: maximum payload size. */
export const PCI_EXP_DEVCTL_PAYLOAD = 0x00e0;
/** DEVCTL bit: 8-bit tags enabled. */
export const PCI_EXP_DEVCTL_EXT_TAG = 0x0100;
/** DEVCTL bit: phantom functions enabled. */
export const PCI_EXP_DEVCTL_PHANTOM = 0x0200;
/** DEVCTL bit: auxiliary power PM enabled. */
export const PCI_EXP_DEVCTL_AUX_PME = 0x0400;
/** DEVCTL bit: no-snoop enabled. */
export const PCI_EXP_DEVCTL_NOSNOOP_EN = 0x0800;
/** DEVCTL field: maximum read request size. */
export const PCI_EXP_DEVCTL_READRQ = 0x7000;
/** DEVCTL bit: initiate a function-level reset (reads as 0). */
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
/** PCIe capability offset of the device status register. */
export const PCI_EXP_DEVSTA = 10;
/** DEVSTA bit: correctable error detected (write 1 to clear). */
export const PCI_EXP_DEVSTA_CED = 0x0001;
/** DEVSTA bit: non-fatal error detected (write 1 to clear). */
export const PCI_EXP_DEVSTA_NFED = 0x0002;
/** DEVSTA bit: fatal error detected (write 1 to clear). */
export const PCI_EXP_DEVSTA_FED = 0x0004;
/** DEVSTA bit: unsupported request detected (write 1 to clear). */
export const PCI_EXP_DEVSTA_URD = 0x0008;
/** DEVSTA bit: auxiliary power detected. */
export const PCI_EXP_DEVSTA_AUXPD = 0x0010;
/** DEVSTA bit: transactions pending. */
export const PCI_EXP_DEVSTA_TRPND = 0x0020;
/** PCIe capability offset of the link capabilities register. */
export const PCI_EXP_LNKCAP = 12;
/** LNKCAP field: maximum link speed. */
export const PCI_EXP_LNKCAP_SLS = 0x0000000f;
/** LNKCAP field: maximum link width. */
export const PCI_EXP_LNKCAP_MLW = 0x000003f0;
/** LNKCAP field: ASPM support. */
export const PCI_EXP_LNKCAP_ASPMS = 0x00000c00;
/** LNKCAP field: port number. */
export const PCI_EXP_LNKCAP_PN = 0xff000000;
/** PCIe capability offset of the link control register. */
export const PCI_EXP_LNKCTL = 16;
/** LNKCTL field: ASPM control. */
export const PCI_EXP_LNKCTL_ASPMC = 0x0003;
/** LNKCTL bit: read completion boundary of 128 bytes. */
export const PCI_EXP_LNKCTL_RCB = 0x0008;
/** LNKCTL bit: common clock configuration. */
export const PCI_EXP_LNKCTL_CCC = 0x0040;
/** LNKCTL bit: extended synch. */
export const PCI_EXP_LNKCTL_ES = 0x0080;
/** PCIe capability offset of the link status register. */
export const PCI_EXP_LNKSTA = 18;
/** LNKSTA field: current link speed. */
export const PCI_EXP_LNKSTA_CLS = 0x000f;
/** LNKSTA field: negotiated link width. */
export const PCI_EXP_LNKSTA_NLW = 0x03f0;
/** Shift of the negotiated link width in LNKSTA. */
export const PCI_EXP_LNKSTA_NLW_SHIFT = 4;
/** LNKSTA bit: slot clock configuration. */
export const PCI_EXP_LNKSTA_SLC = 0x1000;
/** PCIe capability offset of the slot capabilities register. */
export const PCI_EXP_SLTCAP = 20;
/** PCIe capability offset of the slot control register. */
export const PCI_EXP_SLTCTL = 24;
/** PCIe capability offset of the slot status register. */
export const PCI_EXP_SLTSTA = 26;
/** PCIe capability offset of the root control register. */
export const PCI_EXP_RTCTL = 28;
/** PCIe capability offset of the root capabilities register. */
export const PCI_EXP_RTCAP = 30;
/** PCIe capability offset of the root status register. */
export const PCI_EXP_RTSTA = 32;
/** PCIe capability offset of the device capabilities 2 register (version 2). */
export const PCI_EXP_DEVCAP2 = 36;
/** DEVCAP2 field: completion timeout ranges supported. */
export const PCI_EXP_DEVCAP2_COMP_TMOUT_RANGES = 0x0000000f;
/** DEVCAP2 bit: completion timeout disable supported. */
export const PCI_EXP_DEVCAP2_COMP_TMOUT_DIS = 0x00000010;
/** PCIe capability offset of the device control 2 register. */
export const PCI_EXP_DEVCTL2 = 40;
/** DEVCTL2 field: completion timeout value. */
export const PCI_EXP_DEVCTL2_COMP_TIMEOUT = 0x000f;
/** DEVCTL2 bit: completion timeout disabled. */
export const PCI_EXP_DEVCTL2_COMP_TMOUT_DIS = 0x0010;
/** PCIe capability offset of the device status 2 register. */
export const PCI_EXP_DEVSTA2 = 42;
/** PCIe capability offset of the link capabilities 2 register. */
export const PCI_EXP_LNKCAP2 = 44;
/** LNKCAP2 bit: 2.5 GT/s supported. */
export const PCI_EXP_LNKCAP2_SLS_2_5GB = 0x00000002;
/** LNKCAP2 bit: 5.0 GT/s supported. */
export const PCI_EXP_LNKCAP2_SLS_5_0GB = 0x00000004;
/** LNKCAP2 bit: 8.0 GT/s supported. */
export const PCI_EXP_LNKCAP2_SLS_8_0GB = 0x00000008;
/** PCIe capability offset of the link control 2 register. */
export const PCI_EXP_LNKCTL2 = 48;
/** LNKCTL2 field: target link speed. */
export const PCI_EXP_LNKCTL2_TLS = 0x000f;
/** PCIe capability offset of the link status 2 register. */
export const PCI_EXP_LNKSTA2 = 50;
/** PCIe capability offset of the slot capabilities 2 register. */
export const PCI_EXP_SLTCAP2 = 52;
/** PCIe capability offset of the slot control 2 register. */
export const PCI_EXP_SLTCTL2 = 56;
/** PCIe capability offset of the slot status 2 register. */
export const PCI_EXP_SLTSTA2 = 58;
/** Size of a version 1 endpoint PCI Express capability (through LNKSTA). */
export const PCI_CAP_EXP_ENDPOINT_SIZEOF_V1 = 20;
/** Size of a version 2 PCI Express capability (through SLTSTA2). */
export const PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 = 60;

// Extended capabilities (PCI Express, from 0x100).
/** Extended capability header field: capability ID. */
export const PCI_EXT_CAP_ID_MASK = 0x0000ffff;
/** Shift of the version in an extended capability header. */
export const PCI_EXT_CAP_VER_SHIFT = 16;
/** Extended capability header field: capability version. */
export const PCI_EXT_CAP_VER_MASK = 0x000f0000;
/** Shift of the next pointer in an extended capability header. */
export const PCI_EXT_CAP_NEXT_SHIFT = 20;
/** Extended capability header field: offset of the next one (0 ends the list). */
export const PCI_EXT_CAP_NEXT_MASK = 0xffc00000;
/** Extended capability ID: Advanced Error Reporting. */
export const PCI_EXT_CAP_ID_ERR = 0x01;
/** Extended capability ID: virtual channel. */
export const PCI_EXT_CAP_ID_VC = 0x02;
/** Extended capability ID: device serial number. */
export const PCI_EXT_CAP_ID_DSN = 0x03;
/** Extended capability ID: power budgeting. */
export const PCI_EXT_CAP_ID_PWR = 0x04;
/** Extended capability ID: vendor-specific (VSEC). */
export const PCI_EXT_CAP_ID_VNDR = 0x0b;
/** Extended capability ID: access control services. */
export const PCI_EXT_CAP_ID_ACS = 0x0d;
/** Extended capability ID: alternative routing-ID interpretation. */
export const PCI_EXT_CAP_ID_ARI = 0x0e;
/** Extended capability ID: single root I/O virtualization. */
export const PCI_EXT_CAP_ID_SRIOV = 0x10;
/** Extended capability ID: process address space ID. */
export const PCI_EXT_CAP_ID_PASID = 0x1b;

// Advanced Error Reporting.
/** AER offset of the uncorrectable error status register. */
export const PCI_ERR_UNCOR_STATUS = 4;
/** Uncorrectable error bit: data link protocol error. */
export const PCI_ERR_UNC_DLP = 0x00000010;
/** Uncorrectable error bit: surprise down. */
export const PCI_ERR_UNC_SURPDN = 0x00000020;
/** Uncorrectable error bit: poisoned TLP received. */
export const PCI_ERR_UNC_POISON_TLP = 0x00001000;
/** Uncorrectable error bit: flow control protocol error. */
export const PCI_ERR_UNC_FCP = 0x00002000;
/** Uncorrectable error bit: completion timeout. */
export const PCI_ERR_UNC_COMP_TIME = 0x00004000;
/** Uncorrectable error bit: completer abort. */
export const PCI_ERR_UNC_COMP_ABORT = 0x00008000;
/** Uncorrectable error bit: unexpected completion. */
export const PCI_ERR_UNC_UNX_COMP = 0x00010000;
/** Uncorrectable error bit: receiver overflow. */
export const PCI_ERR_UNC_RX_OVER = 0x00020000;
/** Uncorrectable error bit: malformed TLP. */
export const PCI_ERR_UNC_MALF_TLP = 0x00040000;
/** Uncorrectable error bit: ECRC error. */
export const PCI_ERR_UNC_ECRC = 0x00080000;
/** Uncorrectable error bit: unsupported request. */
export const PCI_ERR_UNC_UNSUP = 0x00100000;
/** AER offset of the uncorrectable error mask register. */
export const PCI_ERR_UNCOR_MASK = 8;
/** AER offset of the uncorrectable error severity register (1 = fatal). */
export const PCI_ERR_UNCOR_SEVER = 12;
/** AER offset of the correctable error status register. */
export const PCI_ERR_COR_STATUS = 16;
/** Correctable error bit: receiver error. */
export const PCI_ERR_COR_RCVR = 0x00000001;
/** Correctable error bit: bad TLP. */
export const PCI_ERR_COR_BAD_TLP = 0x00000040;
/** Correctable error bit: bad DLLP. */
export const PCI_ERR_COR_BAD_DLLP = 0x00000080;
/** Correctable error bit: replay number rollover. */
export const PCI_ERR_COR_REP_ROLL = 0x00000100;
/** Correctable error bit: replay timer timeout. */
export const PCI_ERR_COR_REP_TIMER = 0x00001000;
/** Correctable error bit: advisory non-fatal error. */
export const PCI_ERR_COR_ADV_NFAT = 0x00002000;
/** Correctable error bit: corrected internal error. */
export const PCI_ERR_COR_INTERNAL = 0x00004000;
/** Correctable error bit: header log overflow. */
export const PCI_ERR_COR_LOG_OVER = 0x00008000;
/** AER offset of the correctable error mask register. */
export const PCI_ERR_COR_MASK = 20;
/** AER offset of the capabilities and control register. */
export const PCI_ERR_CAP = 24;
/** AER control field: first error pointer. */
export const PCI_ERR_CAP_FEP_MASK = 0x0000001f;
/** AER control bit: ECRC generation capable. */
export const PCI_ERR_CAP_ECRC_GENC = 0x00000020;
/** AER control bit: ECRC generation enabled. */
export const PCI_ERR_CAP_ECRC_GENE = 0x00000040;
/** AER control bit: ECRC checking capable. */
export const PCI_ERR_CAP_ECRC_CHKC = 0x00000080;
/** AER control bit: ECRC checking enabled. */
export const PCI_ERR_CAP_ECRC_CHKE = 0x00000100;
/** AER offset of the header log (four dwords of the failing TLP). */
export const PCI_ERR_HEADER_LOG = 28;
/** AER offset of the root error command register (root ports only). */
export const PCI_ERR_ROOT_COMMAND = 44;
/** AER offset of the root error status register (root ports only). */
export const PCI_ERR_ROOT_STATUS = 48;
/** AER offset of the error source identification register (root ports only). */
export const PCI_ERR_ROOT_ERR_SRC = 52;
/** AER offset of the TLP prefix log. */
export const PCI_ERR_PREFIX_LOG = 56;
/** AER capability size including the TLP prefix log (version 2). */
export const PCI_ERR_SIZEOF = 0x48;
/** Uncorrectable errors this framework models (the AER status/mask/severity bits that exist). */
export const PCI_ERR_UNC_SUPPORTED =
  PCI_ERR_UNC_DLP |
  PCI_ERR_UNC_SURPDN |
  PCI_ERR_UNC_POISON_TLP |
  PCI_ERR_UNC_FCP |
  PCI_ERR_UNC_COMP_TIME |
  PCI_ERR_UNC_COMP_ABORT |
  PCI_ERR_UNC_UNX_COMP |
  PCI_ERR_UNC_RX_OVER |
  PCI_ERR_UNC_MALF_TLP |
  PCI_ERR_UNC_ECRC |
  PCI_ERR_UNC_UNSUP;
/** Severity reset default from the PCI Express base specification (fatal ones set). */
export const PCI_ERR_UNC_SEVER_DEFAULT =
  PCI_ERR_UNC_DLP |
  PCI_ERR_UNC_SURPDN |
  PCI_ERR_UNC_FCP |
  PCI_ERR_UNC_RX_OVER |
  PCI_ERR_UNC_MALF_TLP;
/** Correctable errors this framework models (the AER status and mask bits that exist). */
export const PCI_ERR_COR_SUPPORTED =
  PCI_ERR_COR_RCVR |
  PCI_ERR_COR_BAD_TLP |
  PCI_ERR_COR_BAD_DLLP |
  PCI_ERR_COR_REP_ROLL |
  PCI_ERR_COR_REP_TIMER |
  PCI_ERR_COR_ADV_NFAT |
  PCI_ERR_COR_INTERNAL |
  PCI_ERR_COR_LOG_OVER;
/** Advisory non-fatal errors are masked at reset, per the base specification. */
export const PCI_ERR_COR_MASK_DEFAULT = PCI_ERR_COR_ADV_NFAT;

// Device serial number.
/** DSN capability offset of the serial number's low dword. */
export const PCI_DSN_SERIAL_LO = 4;
/** DSN capability offset of the serial number's high dword. */
export const PCI_DSN_SERIAL_HI = 8;
/** Size of the device serial number capability. */
export const PCI_EXT_CAP_DSN_SIZEOF = 12;

// Vendor-specific extended capability: a second header with id, revision and length.
/** VSEC offset of the vendor-specific header (ID, revision, length). */
export const PCI_VNDR_HEADER = 4;
/** VSEC header field: the vendor's own ID for this capability. */
export const PCI_VNDR_HEADER_ID_MASK = 0x0000ffff;
/** Shift of the revision in a VSEC header. */
export const PCI_VNDR_HEADER_REV_SHIFT = 16;
/** VSEC header field: revision. */
export const PCI_VNDR_HEADER_REV_MASK = 0x000f0000;
/** Shift of the length in a VSEC header. */
export const PCI_VNDR_HEADER_LEN_SHIFT = 20;
/** VSEC header field: length of the whole capability in bytes. */
export const PCI_VNDR_HEADER_LEN_MASK = 0xfff00000;
/** Size of the VSEC headers (extended header and vendor header). */
export const PCI_EXT_CAP_VNDR_HEADER_SIZEOF = 8;
