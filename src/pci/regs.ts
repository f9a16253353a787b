/**
 * Names from Linux include/uapi/linux/pci_regs.h that vfio-ts uses, with the
 * same spelling so code reads like the kernel and the PCI specifications.
 * Offsets inside a capability are relative to the capability's start.
 */

/** Size of conventional config space and of PCI Express extended config space. */
export const PCI_CFG_SPACE_SIZE = 256;
export const PCI_CFG_SPACE_EXP_SIZE = 4096;

// Type 0 header.
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_SPECIAL = 0x0008;
export const PCI_COMMAND_INVALIDATE = 0x0010;
export const PCI_COMMAND_VGA_PALETTE = 0x0020;
export const PCI_COMMAND_PARITY = 0x0040;
export const PCI_COMMAND_WAIT = 0x0080;
export const PCI_COMMAND_SERR = 0x0100;
export const PCI_COMMAND_FAST_BACK = 0x0200;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;

export const PCI_STATUS = 0x06;
export const PCI_STATUS_IMM_READY = 0x0001;
export const PCI_STATUS_INTERRUPT = 0x0008;
export const PCI_STATUS_CAP_LIST = 0x0010;
export const PCI_STATUS_66MHZ = 0x0020;
export const PCI_STATUS_FAST_BACK = 0x0080;
export const PCI_STATUS_PARITY = 0x0100;
export const PCI_STATUS_DEVSEL_MASK = 0x0600;
export const PCI_STATUS_SIG_TARGET_ABORT = 0x0800;
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
export const PCI_STATUS_DETECTED_PARITY = 0x8000;
/** The status bits a device sets on errors and software clears by writing 1. */
export const PCI_STATUS_ERROR_BITS =
  PCI_STATUS_PARITY |
  PCI_STATUS_SIG_TARGET_ABORT |
  PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT |
  PCI_STATUS_SIG_SYSTEM_ERROR |
  PCI_STATUS_DETECTED_PARITY;

export const PCI_CLASS_REVISION = 0x08;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_HEADER_TYPE_MASK = 0x7f;
export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_MFD = 0x80;
export const PCI_BIST = 0x0f;

export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_BASE_ADDRESS_1 = 0x14;
export const PCI_BASE_ADDRESS_2 = 0x18;
export const PCI_BASE_ADDRESS_3 = 0x1c;
export const PCI_BASE_ADDRESS_4 = 0x20;
export const PCI_BASE_ADDRESS_5 = 0x24;
export const PCI_STD_NUM_BARS = 6;
export const PCI_BASE_ADDRESS_SPACE = 0x01;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_SPACE_MEMORY = 0x00;
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x06;
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x00;
export const PCI_BASE_ADDRESS_MEM_TYPE_1M = 0x02;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
export const PCI_BASE_ADDRESS_MEM_MASK = 0xfffffff0;
export const PCI_BASE_ADDRESS_IO_MASK = 0xfffffffc;

export const PCI_CARDBUS_CIS = 0x28;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_ROM_ADDRESS_ENABLE = 0x01;
export const PCI_ROM_ADDRESS_MASK = 0xfffff800;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_MIN_GNT = 0x3e;
export const PCI_MAX_LAT = 0x3f;
/** Size of the type 0 header; standard capabilities live in [0x40, 0x100). */
export const PCI_STD_HEADER_SIZEOF = 64;

// Standard capability list.
export const PCI_CAP_LIST_ID = 0;
export const PCI_CAP_LIST_NEXT = 1;
export const PCI_CAP_FLAGS = 2;
export const PCI_CAP_ID_PM = 0x01;
export const PCI_CAP_ID_AGP = 0x02;
export const PCI_CAP_ID_VPD = 0x03;
export const PCI_CAP_ID_SLOTID = 0x04;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_CHSWP = 0x06;
export const PCI_CAP_ID_PCIX = 0x07;
export const PCI_CAP_ID_HT = 0x08;
export const PCI_CAP_ID_VNDR = 0x09;
export const PCI_CAP_ID_DBG = 0x0a;
export const PCI_CAP_ID_SSVID = 0x0d;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;
export const PCI_CAP_ID_AF = 0x13;

// Power management (PCI PM 1.2).
export const PCI_PM_PMC = 2;
export const PCI_PM_CAP_VER_MASK = 0x0007;
export const PCI_PM_CAP_PME_CLOCK = 0x0008;
export const PCI_PM_CAP_DSI = 0x0020;
export const PCI_PM_CAP_AUX_POWER = 0x01c0;
export const PCI_PM_CAP_D1 = 0x0200;
export const PCI_PM_CAP_D2 = 0x0400;
export const PCI_PM_CAP_PME_MASK = 0xf800;
export const PCI_PM_CAP_PME_SHIFT = 11;
export const PCI_PM_CTRL = 4;
export const PCI_PM_CTRL_STATE_MASK = 0x0003;
export const PCI_PM_CTRL_NO_SOFT_RESET = 0x0008;
export const PCI_PM_CTRL_PME_ENABLE = 0x0100;
export const PCI_PM_CTRL_DATA_SEL_MASK = 0x1e00;
export const PCI_PM_CTRL_DATA_SCALE_MASK = 0x6000;
export const PCI_PM_CTRL_PME_STATUS = 0x8000;
export const PCI_PM_PPB_EXTENSIONS = 6;
export const PCI_PM_DATA_REGISTER = 7;
export const PCI_PM_SIZEOF = 8;

// MSI.
export const PCI_MSI_FLAGS = 2;
export const PCI_MSI_FLAGS_ENABLE = 0x0001;
export const PCI_MSI_FLAGS_QMASK = 0x000e;
export const PCI_MSI_FLAGS_QSIZE = 0x0070;
export const PCI_MSI_FLAGS_64BIT = 0x0080;
export const PCI_MSI_FLAGS_MASKBIT = 0x0100;
export const PCI_MSI_ADDRESS_LO = 4;
export const PCI_MSI_ADDRESS_HI = 8;
export const PCI_MSI_DATA_32 = 8;
export const PCI_MSI_MASK_32 = 12;
export const PCI_MSI_PENDING_32 = 16;
export const PCI_MSI_DATA_64 = 12;
export const PCI_MSI_MASK_64 = 16;
export const PCI_MSI_PENDING_64 = 20;

// MSI-X.
export const PCI_MSIX_FLAGS = 2;
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
export const PCI_MSIX_TABLE = 4;
export const PCI_MSIX_TABLE_BIR = 0x00000007;
export const PCI_MSIX_TABLE_OFFSET = 0xfffffff8;
export const PCI_MSIX_PBA = 8;
export const PCI_MSIX_PBA_BIR = 0x00000007;
export const PCI_MSIX_PBA_OFFSET = 0xfffffff8;
export const PCI_CAP_MSIX_SIZEOF = 12;
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0;
export const PCI_MSIX_ENTRY_UPPER_ADDR = 4;
export const PCI_MSIX_ENTRY_DATA = 8;
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x00000001;
export const PCI_MSIX_MAX_VECTORS = 2048;

// Vendor-specific standard capability: id, next, then the capability's length.
export const PCI_CAP_VNDR_LEN = 2;

// PCI Express capability.
export const PCI_EXP_FLAGS = 2;
export const PCI_EXP_FLAGS_VERS = 0x000f;
export const PCI_EXP_FLAGS_TYPE = 0x00f0;
export const PCI_EXP_FLAGS_SLOT = 0x0100;
export const PCI_EXP_FLAGS_IRQ = 0x3e00;
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
export const PCI_EXP_TYPE_LEG_END = 0x1;
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
export const PCI_EXP_TYPE_UPSTREAM = 0x5;
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
export const PCI_EXP_TYPE_PCI_BRIDGE = 0x7;
export const PCI_EXP_TYPE_PCIE_BRIDGE = 0x8;
export const PCI_EXP_TYPE_RC_END = 0x9;
export const PCI_EXP_TYPE_RC_EC = 0xa;
export const PCI_EXP_DEVCAP = 4;
export const PCI_EXP_DEVCAP_PAYLOAD = 0x00000007;
export const PCI_EXP_DEVCAP_PHANTOM = 0x00000018;
export const PCI_EXP_DEVCAP_EXT_TAG = 0x00000020;
export const PCI_EXP_DEVCAP_L0S = 0x000001c0;
export const PCI_EXP_DEVCAP_L1 = 0x00000e00;
export const PCI_EXP_DEVCAP_RBER = 0x00008000;
export const PCI_EXP_DEVCAP_FLR = 0x10000000;
export const PCI_EXP_DEVCTL = 8;
export const PCI_EXP_DEVCTL_CERE = 0x0001;
export const PCI_EXP_DEVCTL_NFERE = 0x0002;
export const PCI_EXP_DEVCTL_FERE = 0x0004;
export const PCI_EXP_DEVCTL_URRE = 0x0008;
export const PCI_EXP_DEVCTL_RELAX_EN = 0x0010;
export const PCI_EXP_DEVCTL_PAYLOAD = 0x00e0;
export const PCI_EXP_DEVCTL_EXT_TAG = 0x0100;
export const PCI_EXP_DEVCTL_PHANTOM = 0x0200;
export const PCI_EXP_DEVCTL_AUX_PME = 0x0400;
export const PCI_EXP_DEVCTL_NOSNOOP_EN = 0x0800;
export const PCI_EXP_DEVCTL_READRQ = 0x7000;
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
export const PCI_EXP_DEVSTA = 10;
export const PCI_EXP_DEVSTA_CED = 0x0001;
export const PCI_EXP_DEVSTA_NFED = 0x0002;
export const PCI_EXP_DEVSTA_FED = 0x0004;
export const PCI_EXP_DEVSTA_URD = 0x0008;
export const PCI_EXP_DEVSTA_AUXPD = 0x0010;
export const PCI_EXP_DEVSTA_TRPND = 0x0020;
export const PCI_EXP_LNKCAP = 12;
export const PCI_EXP_LNKCAP_SLS = 0x0000000f;
export const PCI_EXP_LNKCAP_MLW = 0x000003f0;
export const PCI_EXP_LNKCAP_ASPMS = 0x00000c00;
export const PCI_EXP_LNKCAP_PN = 0xff000000;
export const PCI_EXP_LNKCTL = 16;
export const PCI_EXP_LNKCTL_ASPMC = 0x0003;
export const PCI_EXP_LNKCTL_RCB = 0x0008;
export const PCI_EXP_LNKCTL_CCC = 0x0040;
export const PCI_EXP_LNKCTL_ES = 0x0080;
export const PCI_EXP_LNKSTA = 18;
export const PCI_EXP_LNKSTA_CLS = 0x000f;
export const PCI_EXP_LNKSTA_NLW = 0x03f0;
export const PCI_EXP_LNKSTA_NLW_SHIFT = 4;
export const PCI_EXP_LNKSTA_SLC = 0x1000;
export const PCI_EXP_SLTCAP = 20;
export const PCI_EXP_SLTCTL = 24;
export const PCI_EXP_SLTSTA = 26;
export const PCI_EXP_RTCTL = 28;
export const PCI_EXP_RTCAP = 30;
export const PCI_EXP_RTSTA = 32;
export const PCI_EXP_DEVCAP2 = 36;
export const PCI_EXP_DEVCAP2_COMP_TMOUT_RANGES = 0x0000000f;
export const PCI_EXP_DEVCAP2_COMP_TMOUT_DIS = 0x00000010;
export const PCI_EXP_DEVCTL2 = 40;
export const PCI_EXP_DEVCTL2_COMP_TIMEOUT = 0x000f;
export const PCI_EXP_DEVCTL2_COMP_TMOUT_DIS = 0x0010;
export const PCI_EXP_DEVSTA2 = 42;
export const PCI_EXP_LNKCAP2 = 44;
export const PCI_EXP_LNKCAP2_SLS_2_5GB = 0x00000002;
export const PCI_EXP_LNKCAP2_SLS_5_0GB = 0x00000004;
export const PCI_EXP_LNKCAP2_SLS_8_0GB = 0x00000008;
export const PCI_EXP_LNKCTL2 = 48;
export const PCI_EXP_LNKCTL2_TLS = 0x000f;
export const PCI_EXP_LNKSTA2 = 50;
export const PCI_EXP_SLTCAP2 = 52;
export const PCI_EXP_SLTCTL2 = 56;
export const PCI_EXP_SLTSTA2 = 58;
/** Size of a version 1 endpoint PCI Express capability (through LNKSTA). */
export const PCI_CAP_EXP_ENDPOINT_SIZEOF_V1 = 20;
/** Size of a version 2 PCI Express capability (through SLTSTA2). */
export const PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 = 60;

// Extended capabilities (PCI Express, from 0x100).
export const PCI_EXT_CAP_ID_MASK = 0x0000ffff;
export const PCI_EXT_CAP_VER_SHIFT = 16;
export const PCI_EXT_CAP_VER_MASK = 0x000f0000;
export const PCI_EXT_CAP_NEXT_SHIFT = 20;
export const PCI_EXT_CAP_NEXT_MASK = 0xffc00000;
export const PCI_EXT_CAP_ID_ERR = 0x01;
export const PCI_EXT_CAP_ID_VC = 0x02;
export const PCI_EXT_CAP_ID_DSN = 0x03;
export const PCI_EXT_CAP_ID_PWR = 0x04;
export const PCI_EXT_CAP_ID_VNDR = 0x0b;
export const PCI_EXT_CAP_ID_ACS = 0x0d;
export const PCI_EXT_CAP_ID_ARI = 0x0e;
export const PCI_EXT_CAP_ID_SRIOV = 0x10;
export const PCI_EXT_CAP_ID_PASID = 0x1b;

// Advanced Error Reporting.
export const PCI_ERR_UNCOR_STATUS = 4;
export const PCI_ERR_UNC_DLP = 0x00000010;
export const PCI_ERR_UNC_SURPDN = 0x00000020;
export const PCI_ERR_UNC_POISON_TLP = 0x00001000;
export const PCI_ERR_UNC_FCP = 0x00002000;
export const PCI_ERR_UNC_COMP_TIME = 0x00004000;
export const PCI_ERR_UNC_COMP_ABORT = 0x00008000;
export const PCI_ERR_UNC_UNX_COMP = 0x00010000;
export const PCI_ERR_UNC_RX_OVER = 0x00020000;
export const PCI_ERR_UNC_MALF_TLP = 0x00040000;
export const PCI_ERR_UNC_ECRC = 0x00080000;
export const PCI_ERR_UNC_UNSUP = 0x00100000;
export const PCI_ERR_UNCOR_MASK = 8;
export const PCI_ERR_UNCOR_SEVER = 12;
export const PCI_ERR_COR_STATUS = 16;
export const PCI_ERR_COR_RCVR = 0x00000001;
export const PCI_ERR_COR_BAD_TLP = 0x00000040;
export const PCI_ERR_COR_BAD_DLLP = 0x00000080;
export const PCI_ERR_COR_REP_ROLL = 0x00000100;
export const PCI_ERR_COR_REP_TIMER = 0x00001000;
export const PCI_ERR_COR_ADV_NFAT = 0x00002000;
export const PCI_ERR_COR_INTERNAL = 0x00004000;
export const PCI_ERR_COR_LOG_OVER = 0x00008000;
export const PCI_ERR_COR_MASK = 20;
export const PCI_ERR_CAP = 24;
export const PCI_ERR_CAP_FEP_MASK = 0x0000001f;
export const PCI_ERR_CAP_ECRC_GENC = 0x00000020;
export const PCI_ERR_CAP_ECRC_GENE = 0x00000040;
export const PCI_ERR_CAP_ECRC_CHKC = 0x00000080;
export const PCI_ERR_CAP_ECRC_CHKE = 0x00000100;
export const PCI_ERR_HEADER_LOG = 28;
export const PCI_ERR_ROOT_COMMAND = 44;
export const PCI_ERR_ROOT_STATUS = 48;
export const PCI_ERR_ROOT_ERR_SRC = 52;
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
export const PCI_DSN_SERIAL_LO = 4;
export const PCI_DSN_SERIAL_HI = 8;
export const PCI_EXT_CAP_DSN_SIZEOF = 12;

// Vendor-specific extended capability: a second header with id, revision and length.
export const PCI_VNDR_HEADER = 4;
export const PCI_VNDR_HEADER_ID_MASK = 0x0000ffff;
export const PCI_VNDR_HEADER_REV_SHIFT = 16;
export const PCI_VNDR_HEADER_REV_MASK = 0x000f0000;
export const PCI_VNDR_HEADER_LEN_SHIFT = 20;
export const PCI_VNDR_HEADER_LEN_MASK = 0xfff00000;
export const PCI_EXT_CAP_VNDR_HEADER_SIZEOF = 8;
