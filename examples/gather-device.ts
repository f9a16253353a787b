// A DMA engine with MSI-X and several vectors: it gathers buffers scattered in the
// driver's memory into one destination. The driver writes a descriptor list in its own
// memory (16 bytes each: IOVA u64, length u32, reserved u32), points the device at it and
// rings GO with the MSI-X vector that should signal completion; failures (a descriptor
// outside the driver's DMA windows, a bad count or length) signal the last vector instead.
// Serve it with: npx vfio-ts serve dist/examples/gather-device.js --socket-path /tmp/gather.sock
import { createDevice, type DeviceContext, errnoOf, VfioError } from "vfio-ts";

/** BAR0 registers. */
export const GATHER_ID = 0x00; // reads 0x5ca77e40
export const GATHER_STATUS = 0x04; // 0 idle, 1 busy, 2 done, 3 failed
export const GATHER_LIST_LO = 0x08; // IOVA of the descriptor list
export const GATHER_LIST_HI = 0x0c;
export const GATHER_COUNT = 0x10; // descriptors in the list (1..GATHER_MAX_DESCRIPTORS)
export const GATHER_DEST_LO = 0x14; // IOVA the buffers are gathered to
export const GATHER_DEST_HI = 0x18;
export const GATHER_GO = 0x1c; // write: start, value = completion vector
export const GATHER_BYTES = 0x20; // bytes gathered by the last transfer
export const GATHER_ERROR = 0x24; // errno of the last failure

export const GATHER_DESCRIPTOR_SIZE = 16;
export const GATHER_MAX_DESCRIPTORS = 64;
export const GATHER_MAX_LENGTH = 64 * 1024;
/** MSI-X vectors: 0..2 signal completion (the driver picks one per transfer), 3 failures. */
export const GATHER_VECTORS = 4;
export const GATHER_ERROR_VECTOR = GATHER_VECTORS - 1;

export const STATUS_IDLE = 0;
export const STATUS_BUSY = 1;
export const STATUS_DONE = 2;
export const STATUS_FAILED = 3;

export default function gatherDevice() {
  const regs = new Uint32Array(0x28 / 4);
  const reg = (offset: number) => regs[offset / 4]!;
  const iova = (lo: number) => (BigInt(reg(lo + 4)) << 32n) | BigInt(reg(lo));

  // One transfer: the descriptor list, then its buffers as one scatter-gather read (the
  // SDK checks every segment against the client's IOMMU windows before a byte moves),
  // written to the destination.
  async function transfer(vector: number, dev: DeviceContext): Promise<void> {
    const count = reg(GATHER_COUNT);
    if (count < 1 || count > GATHER_MAX_DESCRIPTORS) {
      throw new VfioError("EINVAL", `descriptor count ${count}`);
    }
    const list = await dev.dma.read(iova(GATHER_LIST_LO), count * GATHER_DESCRIPTOR_SIZE);
    const view = new DataView(list.buffer, list.byteOffset, list.byteLength);
    const segments = [];
    for (let at = 0; at < list.byteLength; at += GATHER_DESCRIPTOR_SIZE) {
      const length = view.getUint32(at + 8, true);
      if (length > GATHER_MAX_LENGTH) {
        throw new VfioError(
          "EINVAL",
          `descriptor ${at / GATHER_DESCRIPTOR_SIZE}: length ${length}`,
        );
      }
      segments.push({ iova: view.getBigUint64(at, true), length });
    }
    const data = await dev.dma.readSegments(segments);
    await dev.dma.write(iova(GATHER_DEST_LO), data);
    regs[GATHER_BYTES / 4] = data.byteLength;
    regs[GATHER_STATUS / 4] = STATUS_DONE;
    dev.irq.trigger(vector);
  }

  // The doorbell: the transfer runs as a device task, so the GO write is answered at
  // once (completion comes as an interrupt) and a reset waits for it to settle.
  function start(vector: number, dev: DeviceContext): void {
    regs[GATHER_STATUS / 4] = STATUS_BUSY;
    regs[GATHER_BYTES / 4] = 0;
    regs[GATHER_ERROR / 4] = 0;
    dev.tasks.run(async () => {
      try {
        if (vector >= GATHER_ERROR_VECTOR) {
          throw new VfioError("EINVAL", `completion vector ${vector}`);
        }
        await transfer(vector, dev);
      } catch (err) {
        dev.log.warn(`gather failed: ${(err as Error).message}`);
        regs[GATHER_ERROR / 4] = errnoOf(err);
        regs[GATHER_STATUS / 4] = STATUS_FAILED;
        dev.irq.trigger(GATHER_ERROR_VECTOR);
      }
    }, "gather");
  }

  return createDevice({
    name: "gather-example",
    vendorId: 0x1b36,
    deviceId: 0x0044,
    classCode: 0xff0000,
    bars: [
      {
        kind: "mem32",
        size: 4096,
        read(offset) {
          if (offset === GATHER_ID) return 0x5ca77e40;
          return offset < regs.byteLength && offset % 4 === 0 ? reg(offset) : 0;
        },
        write(offset, data, dev) {
          const value = new DataView(data.buffer, data.byteOffset).getUint32(0, true);
          if (offset === GATHER_GO) {
            if (reg(GATHER_STATUS) !== STATUS_BUSY) start(value, dev);
          } else if (offset >= GATHER_LIST_LO && offset <= GATHER_DEST_HI && offset % 4 === 0) {
            regs[offset / 4] = value;
          }
        },
      },
    ],
    capabilities: [
      {
        kind: "msix",
        tableSize: GATHER_VECTORS,
        tableBar: 0,
        tableOffset: 0x800,
        pbaBar: 0,
        pbaOffset: 0xc00,
      },
    ],
    reset: () => {
      regs.fill(0);
    },
  });
}
