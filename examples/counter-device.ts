// A PCI device in about thirty lines: a counter register, an MSI-X interrupt and DMA.
// Serve it with: npx vfio-ts serve dist/examples/counter-device.js --socket /tmp/counter.sock
import { createDevice } from "vfio-ts";

export default function counterDevice() {
  let count = 0;
  let sum = 0n;
  return createDevice({
    name: "counter",
    vendorId: 0x1b36,
    deviceId: 0x0042,
    classCode: 0xff0000,
    bars: [
      {
        kind: "mem32",
        size: 4096,
        read(offset) {
          if (offset === 0x0) return 0xc0ffee; // identification
          if (offset === 0x4) return count;
          if (offset === 0x10) return sum;
          return 0;
        },
        // `dev` is the device itself: its interrupts, DMA, config space and log.
        async write(offset, data, dev) {
          const value = new DataView(data.buffer, data.byteOffset).getUint32(0, true);
          if (offset === 0x8) {
            count += value;
            dev.irq.trigger(0); // MSI-X vector 0 (or MSI / INTx, whichever the driver enabled)
          } else if (offset === 0xc) {
            // DMA: add up the eight u64 words at IOVA `value`, through the client's IOMMU map.
            const words = new BigUint64Array((await dev.dma.read(value, 64)).slice().buffer);
            sum = words.reduce((a, b) => a + b, 0n);
          }
        },
      },
    ],
    capabilities: [
      { kind: "msix", tableSize: 2, tableBar: 0, tableOffset: 0x800, pbaBar: 0, pbaOffset: 0xc00 },
    ],
    reset: () => {
      count = 0;
    },
  });
}
