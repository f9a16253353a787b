// A device that interrupts through INTx, the legacy level-triggered line (INTA#).
// A driver writes cause bits to RAISE; the line stays asserted while any cause is set and
// drops when the driver acknowledges them all. The framework does the rest of what
// vfio-pci does: it masks INTx each time it signals the eventfd (the driver unmasks, its
// EOI, and is signalled again if the line is still up), it delivers nothing while the
// command register's INTx-disable bit is set, and it shows the line in the status register.
// Serve it with: npx vfio-ts serve dist/examples/intx-device.js --socket-path /tmp/intx.sock
import { createDevice } from "vfio-ts";

/** BAR0 registers. */
export const INTX_ID = 0x0; // reads 0x1e7c0001
export const INTX_CAUSE = 0x4; // pending cause bits (read-only)
export const INTX_RAISE = 0x8; // write: OR bits into CAUSE
export const INTX_ACK = 0xc; // write: clear these bits of CAUSE (write 1 to clear)

export default function intxDevice() {
  let cause = 0;
  return createDevice({
    name: "intx-example",
    vendorId: 0x1b36,
    deviceId: 0x0043,
    classCode: 0xff0000,
    interruptPin: 1, // INTA#
    bars: [
      {
        kind: "mem32",
        size: 4096,
        read(offset) {
          if (offset === INTX_ID) return 0x1e7c0001;
          if (offset === INTX_CAUSE) return cause;
          return 0;
        },
        write(offset, data, dev) {
          const value = new DataView(data.buffer, data.byteOffset).getUint32(0, true);
          if (offset === INTX_RAISE) cause |= value;
          else if (offset === INTX_ACK) cause &= ~value;
          else return;
          // The line follows the causes; assert() while it is up again is harmless.
          if (cause !== 0) dev.irq.intx.assert();
          else dev.irq.intx.deassert();
        },
      },
    ],
    // Reset has already lowered the line and torn down the client's INTx setup.
    reset: () => {
      cause = 0;
    },
  });
}
