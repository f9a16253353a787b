/**
 * ACCES PCI-IDIO-16: 16 FET outputs, 16 optically isolated inputs, change-of-state
 * interrupt. Byte registers in BAR 2, laid out as the card's manual and the Linux
 * driver (drivers/gpio/gpio-pci-idio-16.c, gpio-idio-16.c) have them.
 */

export const IDIO16_VENDOR_ID = 0x494f;
export const IDIO16_DEVICE_ID = 0x0dc8;
/** Not confirmed from hardware: "unassigned class" (0xff), as PLX-bridged DAQ cards tend to report. */
export const IDIO16_CLASS_CODE = 0xff0000;
/** The driver maps BAR 2 only (pcim_iomap_regions(pdev, BIT(2), ...)). */
export const IDIO16_BAR = 2;
/** Eight byte registers (the card decodes an eight-byte I/O window). */
export const IDIO16_REG_COUNT = 8;

/** R/W: FET drive outputs 0-7 (the latch reads back). */
export const IDIO16_REG_OUT0_7 = 0x0;
/** R: isolated inputs 0-7. W (any value): clear the interrupt. */
export const IDIO16_REG_IN0_7 = 0x1;
/** R: enable the change-of-state interrupt. W (any value): disable it. */
export const IDIO16_REG_IRQ_CTL = 0x2;
/** R: activate the input filters of all 16 inputs. W (any value): deactivate them. */
export const IDIO16_REG_FILTER_CTL = 0x3;
/** R/W: FET drive outputs 8-15. */
export const IDIO16_REG_OUT8_15 = 0x4;
/** R: isolated inputs 8-15. W: unused. */
export const IDIO16_REG_IN8_15 = 0x5;
/** R: interrupt status (IDIO16_IRQ_STATUS_*). W: unused. */
export const IDIO16_REG_IRQ_STATUS = 0x6;
/** R: filter status of inputs 0-7. W: per-input filter control of inputs 0-7. */
export const IDIO16_REG_FILTER0_7 = 0x7;

/**
 * Interrupt status bits. Bit 2 is what the current driver's regmap-irq chip tests for
 * every input line; the older driver also required one of bits 0-1. We set bit 0 or
 * bit 1 for the input byte whose lines changed (our reading of those two bits).
 */
export const IDIO16_IRQ_STATUS_COS0_7 = 0x01;
export const IDIO16_IRQ_STATUS_COS8_15 = 0x02;
export const IDIO16_IRQ_STATUS_PENDING = 0x04;
