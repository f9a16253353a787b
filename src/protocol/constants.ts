/**
 * Numbers of the vfio-user protocol (spec version 0.9.2) and of the VFIO ABI it reuses.
 * Names follow the spec and linux/vfio.h so they can be grepped against both.
 */

export const VFIO_USER_MAJOR = 0;
/** Minor version of the vfio-user protocol we speak, sent in VERSION (major 0). */
export const VFIO_USER_MINOR = 1;

/** Command ids (spec "Commands"). 14 is unused by the spec. */
export const Command = {
  VFIO_USER_VERSION: 1,
  VFIO_USER_DMA_MAP: 2,
  VFIO_USER_DMA_UNMAP: 3,
  VFIO_USER_DEVICE_GET_INFO: 4,
  VFIO_USER_DEVICE_GET_REGION_INFO: 5,
  VFIO_USER_DEVICE_GET_REGION_IO_FDS: 6,
  VFIO_USER_DEVICE_GET_IRQ_INFO: 7,
  VFIO_USER_DEVICE_SET_IRQS: 8,
  VFIO_USER_REGION_READ: 9,
  VFIO_USER_REGION_WRITE: 10,
  VFIO_USER_DMA_READ: 11,
  VFIO_USER_DMA_WRITE: 12,
  VFIO_USER_DEVICE_RESET: 13,
  VFIO_USER_REGION_WRITE_MULTI: 15,
  VFIO_USER_DEVICE_FEATURE: 16,
  VFIO_USER_MIG_DATA_READ: 17,
  VFIO_USER_MIG_DATA_WRITE: 18,
} as const;
/** The spec's name of a command: a key of `Command`. */
export type CommandName = keyof typeof Command;
/** A command number the spec defines: a value of `Command`. */
export type CommandId = (typeof Command)[CommandName];

const commandNames = new Map<number, CommandName>(
  Object.entries(Command).map(([k, v]) => [v, k as CommandName]),
);
/** The spec's name of a command ("VFIO_USER_DMA_MAP"), or UNKNOWN(n). */
export function commandName(cmd: number): string {
  return commandNames.get(cmd) ?? `UNKNOWN(${cmd})`;
}

const commandLabels = new Map<number, string>(
  Object.entries(Command).map(([k, v]) => [v, k.slice("VFIO_USER_".length)]),
);
/**
 * The short name of a command for messages and logs ("DMA_MAP"), or "command n".
 * Derived from `Command`, like commandName: the one table of command names.
 */
export function commandLabel(cmd: number): string {
  return commandLabels.get(cmd) ?? `command ${cmd}`;
}
/** Whether `cmd` is a command the spec defines; narrows it to CommandId. */
export function isKnownCommand(cmd: number): cmd is CommandId {
  return commandNames.has(cmd);
}

/** Header layout (spec "Header"). */
export const HEADER_SIZE = 16;
/** Header flags field: the message type (command or reply). */
export const VFIO_USER_F_TYPE_MASK = 0xf;
/** Message type: a command. */
export const VFIO_USER_F_TYPE_COMMAND = 0x0;
/** Message type: a reply. */
export const VFIO_USER_F_TYPE_REPLY = 0x1;
/** Header flag: the sender wants no reply (posted writes). */
export const VFIO_USER_F_NO_REPLY = 1 << 4;
/** Header flag: the reply is an error and carries an errno. */
export const VFIO_USER_F_ERROR = 1 << 5;

/** Capability defaults when a peer does not state them (spec "Version"). */
export const DEFAULT_MAX_MSG_FDS = 1;
/** Default `max_data_xfer_size`: the largest data payload of one message (1 MiB). */
export const DEFAULT_MAX_DATA_XFER_SIZE = 1048576;
/** Default `max_dma_maps`: DMA windows a server keeps. */
export const DEFAULT_MAX_DMA_MAPS = 65535;
/** Default `pgsizes`: the IOMMU page sizes a server supports (4 KiB). */
export const DEFAULT_PGSIZES = 4096n;

/*
 * Everything below was added with the message codecs. Values are the linux/vfio.h ABI that
 * the spec reuses, plus the few libvfio-user / QEMU extensions real peers put on the wire.
 */

/** Default of the `migration.max_bitmap_size` capability (QEMU: 256 MiB, the kernel's limit). */
export const DEFAULT_MAX_BITMAP_SIZE = 256 * 1024 * 1024;
/** Default of the `migration.pgsize` capability when a peer names migration but no page size. */
export const DEFAULT_MIGRATION_PGSIZE = 4096n;

/** VFIO_USER_DMA_MAP flags (struct vfio_iommu_type1_dma_map). */
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
/** DMA_MAP flag: the device may write the window. */
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

/**
 * VFIO_USER_DMA_UNMAP flags. The 0.9.2 spec calls the field unused, but QEMU sends
 * FLAG_ALL (with address and size 0) and libvfio-user honours both, as the kernel does.
 */
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
/** DMA_UNMAP flag: remove every window (address and size 0). */
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;

/** VFIO_USER_DEVICE_GET_INFO flags. */
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
/** DEVICE_GET_INFO flag: a PCI device (regions and IRQs use the VFIO_PCI_* indexes). */
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;

/** VFIO_USER_DEVICE_GET_REGION_INFO flags. */
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
/** Region flag: the region can be written. */
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
/** Region flag: the region comes with an fd the client may mmap. */
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
/** Region flag: a capability chain follows the region info. */
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

/** Region capability ids (struct vfio_info_cap_header.id). */
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
/** Region capability: the type and subtype of a device-specific region. */
export const VFIO_REGION_INFO_CAP_TYPE = 2;
/** Region capability: the MSI-X table may be mmapped with the rest of the BAR. */
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

/** PCI region indexes (enum in linux/vfio.h); a device may add regions past NUM_REGIONS. */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
/** Region index of BAR 5. */
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
/** Region index of the expansion ROM. */
export const VFIO_PCI_ROM_REGION_INDEX = 6;
/** Region index of config space, virtualized by the framework. */
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
/** Region index of the legacy VGA ranges. */
export const VFIO_PCI_VGA_REGION_INDEX = 8;
/** Number of standard PCI regions; device-specific regions come after. */
export const VFIO_PCI_NUM_REGIONS = 9;

/** PCI IRQ indexes. */
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
/** IRQ index of MSI. */
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
/** IRQ index of MSI-X. */
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
/** IRQ index of the error (AER) notification. */
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
/** IRQ index of the request to release the device. */
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
/** Number of standard PCI IRQ indexes. */
export const VFIO_PCI_NUM_IRQS = 5;

const IRQ_NAMES = ["INTx", "MSI", "MSI-X", "ERR", "REQ"];

/** "MSI-X" for 2, "IRQ index 7" for device-specific ones. */
export function irqIndexName(index: number): string {
  return IRQ_NAMES[index] ?? `IRQ index ${index}`;
}

const REGION_NAMES = ["BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "config", "VGA"];

/** "BAR2", "config", "region 12". */
export function regionName(index: number): string {
  return REGION_NAMES[index] ?? `region ${index}`;
}

/** VFIO_USER_DEVICE_GET_IRQ_INFO flags. */
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
/** IRQ info flag: the index's vectors can be masked and unmasked. */
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
/** IRQ info flag: a trigger masks the interrupt until it is unmasked (INTx). */
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
/** IRQ info flag: the vector count cannot change while enabled. */
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

/** VFIO_USER_DEVICE_SET_IRQS flags: exactly one DATA bit and one ACTION bit. */
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
/** SET_IRQS data: one byte per vector, act only where it is 1. */
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
/** SET_IRQS data: one eventfd per vector (-1 or none tears it down). */
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
/** SET_IRQS action: mask the vectors. */
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
/** SET_IRQS action: unmask the vectors. */
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
/** SET_IRQS action: set the vectors' eventfds, or fire them. */
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
/** SET_IRQS flags: the data type bits. */
export const VFIO_IRQ_SET_DATA_TYPE_MASK = 0x7;
/** SET_IRQS flags: the action bits. */
export const VFIO_IRQ_SET_ACTION_TYPE_MASK = 0x38;

/** Sub-region types of VFIO_USER_DEVICE_GET_REGION_IO_FDS. SHADOW is libvfio-user's. */
export const VFIO_USER_IO_FD_TYPE_IOEVENTFD = 0;
/** Sub-region type: an ioregionfd. */
export const VFIO_USER_IO_FD_TYPE_IOREGIONFD = 1;
/** Sub-region type: an ioeventfd with a shadow memory fd (libvfio-user's). */
export const VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW = 2;

/** Sub-region flags, from linux/kvm.h. */
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
/** Sub-region flag: the ioeventfd is on I/O port space. */
export const KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
/** Sub-region flag: a virtio-ccw notification (s390). */
export const KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY = 1 << 3;
/** ioregionfd flag: I/O port space. */
export const KVM_IOREGION_PIO = 1 << 0;
/** ioregionfd flag: writes are posted, with no reply. */
export const KVM_IOREGION_POSTED_WRITES = 1 << 1;

/** VFIO_USER_REGION_WRITE_MULTI: each entry carries at most 8 data bytes; QEMU sends <= 200. */
export const VFIO_USER_MULTI_DATA = 8;
/** Most writes one REGION_WRITE_MULTI may carry. */
export const VFIO_USER_MULTI_MAX = 200;

/** VFIO_USER_DEVICE_FEATURE flags: feature index in bits 0-15, operation bits above. */
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
/** DEVICE_FEATURE operation: get the feature's data. */
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
/** DEVICE_FEATURE operation: set the feature's data. */
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
/** DEVICE_FEATURE operation: ask whether the feature and operation are supported. */
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;

/** Feature indexes vfio-user supports. */
export const VFIO_DEVICE_FEATURE_MIGRATION = 1;
/** Feature: the device's migration state. */
export const VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 2;
/** Feature: start dirty-page logging of DMA ranges. */
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_START = 6;
/** Feature: stop dirty-page logging. */
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP = 7;
/** Feature: report the dirty pages of a range. */
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT = 8;

/** VFIO_DEVICE_FEATURE_MIGRATION flags (u64 on the wire). */
export const VFIO_MIGRATION_STOP_COPY = 1n << 0n;
/** Migration flag: the device supports the P2P states. */
export const VFIO_MIGRATION_P2P = 1n << 1n;
/** Migration flag: the device supports pre-copy. */
export const VFIO_MIGRATION_PRE_COPY = 1n << 2n;

/** enum vfio_device_mig_state. */
export const VFIO_DEVICE_STATE_ERROR = 0;
/** Migration state: stopped. */
export const VFIO_DEVICE_STATE_STOP = 1;
/** Migration state: running. */
export const VFIO_DEVICE_STATE_RUNNING = 2;
/** Migration state: stopped, saving its state. */
export const VFIO_DEVICE_STATE_STOP_COPY = 3;
/** Migration state: loading a saved state. */
export const VFIO_DEVICE_STATE_RESUMING = 4;
/** Migration state: running but not initiating peer-to-peer DMA. */
export const VFIO_DEVICE_STATE_RUNNING_P2P = 5;
/** Migration state: running while saving its state. */
export const VFIO_DEVICE_STATE_PRE_COPY = 6;
/** Migration state: pre-copy without peer-to-peer DMA. */
export const VFIO_DEVICE_STATE_PRE_COPY_P2P = 7;
