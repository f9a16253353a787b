/**
 * Numbers of the VFIO user API (linux/vfio.h) that drivers pass to DeviceHandle:
 * region and IRQ indexes of vfio-pci and the flag bits of the info structures. The
 * protocol layer owns them; they are re-exported here so drivers import one module.
 */
export {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_CAP_TYPE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from "../protocol/constants.js";

export const VFIO_PCI_BAR1_REGION_INDEX = 1;
export const VFIO_PCI_BAR2_REGION_INDEX = 2;
export const VFIO_PCI_BAR3_REGION_INDEX = 3;
export const VFIO_PCI_BAR4_REGION_INDEX = 4;

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
