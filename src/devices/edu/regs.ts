/**
 * QEMU "edu" device: identity and register map (QEMU docs/specs/edu.rst). All
 * offsets are into BAR0, a 1 MiB 32-bit non-prefetchable memory BAR.
 */

export const EDU_VENDOR_ID = 0x1234;
export const EDU_DEVICE_ID = 0x11e8;
/** PCI_CLASS_OTHERS (0xff) as QEMU declares it, i.e. class 0x00ff with prog-if 0. */
export const EDU_CLASS_CODE = 0x00ff00;
export const EDU_REVISION = 0x10;
/** QEMU gives devices without their own subsystem ids Red Hat/Qumranet's: 1af4:1100. */
export const EDU_SUBSYSTEM_VENDOR_ID = 0x1af4;
export const EDU_SUBSYSTEM_ID = 0x1100;
export const EDU_BAR_SIZE = 1 << 20;

/** RO: 0xRRrr00ed, RR major and rr minor version. */
export const EDU_REG_ID = 0x00;
/** RW: reads back the bitwise inverse of the last value written. */
export const EDU_REG_LIVENESS = 0x04;
/** RW: write n, read n! once EDU_STATUS_COMPUTING is clear (32-bit arithmetic). */
export const EDU_REG_FACTORIAL = 0x08;
/** RW: EDU_STATUS_COMPUTING (RO) | EDU_STATUS_IRQ_FACT. */
export const EDU_REG_STATUS = 0x20;
/** RO: the bits that raised the interrupt. */
export const EDU_REG_IRQ_STATUS = 0x24;
/** WO: OR the value into the interrupt status and raise the interrupt. */
export const EDU_REG_IRQ_RAISE = 0x60;
/** WO: clear these bits of the interrupt status; the line drops when it reaches 0. */
export const EDU_REG_IRQ_ACK = 0x64;
/** RW, 4 or 8 bytes: DMA source address. */
export const EDU_REG_DMA_SRC = 0x80;
/** RW, 4 or 8 bytes: DMA destination address. */
export const EDU_REG_DMA_DST = 0x88;
/** RW, 4 or 8 bytes: DMA transfer count in bytes. */
export const EDU_REG_DMA_COUNT = 0x90;
/** RW, 4 or 8 bytes: DMA command (EDU_DMA_CMD_*). */
export const EDU_REG_DMA_CMD = 0x98;

/** Below this offset only 4-byte accesses are valid; from it on, 4 or 8 bytes. */
export const EDU_WIDE_REGS_START = 0x80;

export const EDU_ID_VALUE = 0x010000ed;

export const EDU_STATUS_COMPUTING = 0x01;
export const EDU_STATUS_IRQ_FACT = 0x80;

/** Interrupt status bit raised when a factorial completes (with EDU_STATUS_IRQ_FACT). */
export const EDU_IRQ_FACT = 0x001;
/** Interrupt status bit raised when a DMA completes (with EDU_DMA_CMD_IRQ). */
export const EDU_IRQ_DMA = 0x100;

/** Start the transfer; reads back set while it runs. */
export const EDU_DMA_CMD_START = 0x1;
/** Direction: clear = RAM to device buffer, set = device buffer to RAM. */
export const EDU_DMA_CMD_TO_RAM = 0x2;
/** Raise EDU_IRQ_DMA when the transfer is done. */
export const EDU_DMA_CMD_IRQ = 0x4;

/** The device buffer's address on the device side of a DMA. */
export const EDU_DMA_BUF_ADDR = 0x40000;
export const EDU_DMA_BUF_SIZE = 4096;

/** The device can address 28 bits of RAM unless told otherwise (QEMU's dma_mask). */
export const EDU_DEFAULT_DMA_MASK = (1n << 28n) - 1n;
