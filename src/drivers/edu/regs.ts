/**
 * The edu device as its driver sees it (QEMU docs/specs/edu.rst). A driver owns its
 * own copy of the register map, as a kernel driver does, instead of importing the
 * device model's: the two sides meet only at the bus, so a model bug cannot hide
 * behind a shared constant.
 */

export const EDU_VENDOR_ID = 0x1234;
export const EDU_DEVICE_ID = 0x11e8;

/** Everything lives in BAR0 (1 MiB of MMIO). */
export const EDU_BAR = 0;

/** RO: 0xRRrr00ed (RR major, rr minor). The low byte identifies the device. */
export const REG_ID = 0x00;
export const ID_MAGIC = 0xed;
/** RW: reads back the inverse of the last value written. */
export const REG_LIVENESS = 0x04;
/** RW: write n, read n! once STATUS_COMPUTING clears. */
export const REG_FACTORIAL = 0x08;
export const REG_STATUS = 0x20;
export const STATUS_COMPUTING = 0x01;
/** Raise IRQ_FACTORIAL when a factorial completes. */
export const STATUS_IRQ_FACTORIAL = 0x80;
export const REG_IRQ_STATUS = 0x24;
export const REG_IRQ_RAISE = 0x60;
export const REG_IRQ_ACK = 0x64;
export const REG_DMA_SRC = 0x80;
export const REG_DMA_DST = 0x88;
export const REG_DMA_COUNT = 0x90;
export const REG_DMA_CMD = 0x98;

export const DMA_CMD_START = 0x1;
/** Direction bit: set moves the device buffer to RAM. */
export const DMA_CMD_TO_RAM = 0x2;
export const DMA_CMD_IRQ = 0x4;

/** Interrupt status bits the device itself raises. */
export const IRQ_FACTORIAL = 0x001;
export const IRQ_DMA = 0x100;

/** The DMA engine's buffer, at this device-side address. */
export const DMA_BUF_ADDR = 0x40000;
export const DMA_BUF_SIZE = 4096;
/** The engine drives 28 address lines: RAM (IOVA) above this is out of its reach. */
export const DMA_ADDR_LIMIT = 1n << 28n;
