// The package consumer's device, written against the installed vfio-ts as a user writes
// one. consumer.test.ts compiles it against the published .d.ts and serves it. The one
// place to update when the device SDK's callbacks change.
import { createDevice } from "vfio-ts";

export default function scratchDevice() {
  let scratch = 0;
  return createDevice({
    name: "scratch",
    vendorId: 0x1b36,
    deviceId: 0x0099,
    classCode: 0xff0000,
    bars: [
      {
        kind: "mem32",
        size: 4096,
        read(offset) {
          if (offset === 0x0) return 0x5c7a7c40; // identification
          if (offset === 0x4) return scratch;
          return 0;
        },
        write(offset, data, dev) {
          if (offset !== 0x4) return;
          scratch = new DataView(data.buffer, data.byteOffset).getUint32(0, true) ^ 0xffffffff;
          dev.irq.trigger(0); // MSI-X vector 0: "the register changed"
        },
      },
    ],
    capabilities: [
      { kind: "msix", tableSize: 1, tableBar: 0, tableOffset: 0x800, pbaBar: 0, pbaOffset: 0xc00 },
    ],
    reset: () => {
      scratch = 0;
    },
  });
}
