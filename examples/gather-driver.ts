// A user-level driver for examples/gather-device.ts, written against the driver API only
// (DeviceHandle, Container, IrqVector), so the same class runs over a vfio-user socket
// (examples/gather-run.ts), the in-process loopback backend (its unit test,
// test/examples/gather-driver.test.ts) or the kernel's VFIO.
import {
  VFIO_PCI_BAR0_REGION_INDEX as BAR0,
  type Container,
  type DeviceHandle,
  type DmaBuffer,
  errnoName,
  type IrqVector,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VfioError,
} from "vfio-ts";
import {
  GATHER_BYTES,
  GATHER_COUNT,
  GATHER_DESCRIPTOR_SIZE,
  GATHER_DEST_LO,
  GATHER_ERROR,
  GATHER_ERROR_VECTOR,
  GATHER_GO,
  GATHER_ID,
  GATHER_LIST_LO,
  GATHER_MAX_DESCRIPTORS,
  GATHER_STATUS,
  GATHER_VECTORS,
  STATUS_DONE,
} from "./gather-device.js";

/** A piece of driver memory, by IOVA: a DmaBuffer's `iova` plus an offset, or any mapping. */
export interface Segment {
  readonly iova: bigint;
  readonly length: number;
}

export class GatherDriver {
  readonly #dev: DeviceHandle;
  readonly #vectors: IrqVector[];
  readonly #list: DmaBuffer;

  private constructor(dev: DeviceHandle, vectors: IrqVector[], list: DmaBuffer) {
    this.#dev = dev;
    this.#vectors = vectors;
    this.#list = list;
  }

  /** Probes the device, enables decoding, DMA and every MSI-X vector, maps its list. */
  static async open(dev: DeviceHandle, container: Container): Promise<GatherDriver> {
    const id = await dev.read32(BAR0, GATHER_ID);
    if (id !== 0x5ca77e40) {
      throw new VfioError("ENODEV", `not a gather device: id register 0x${id.toString(16)}`);
    }
    await dev.config.enableMemory();
    await dev.config.enableBusMaster();
    const vectors = await dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX, { count: GATHER_VECTORS });
    if (!dev.container) await container.attach(dev);
    const list = await container.allocateBuffer(GATHER_MAX_DESCRIPTORS * GATHER_DESCRIPTOR_SIZE, {
      perms: "r", // the device only reads the list
    });
    return new GatherDriver(dev, vectors, list);
  }

  /**
   * Gathers `segments`, in order, to `dest` and waits for the completion interrupt on
   * MSI-X `vector` (0..2). Resolves to the bytes gathered; rejects with the device's errno
   * when it signals its error vector instead.
   */
  async gather(
    segments: readonly Segment[],
    dest: bigint,
    vector = 0,
    timeoutMs = 10_000,
  ): Promise<number> {
    if (!Number.isInteger(vector) || vector < 0 || vector >= GATHER_ERROR_VECTOR) {
      throw new VfioError(
        "EINVAL",
        `completion vector ${vector} is not 0..${GATHER_ERROR_VECTOR - 1}`,
      );
    }
    if (segments.length === 0 || segments.length > GATHER_MAX_DESCRIPTORS) {
      throw new VfioError("EINVAL", `${segments.length} segments (1..${GATHER_MAX_DESCRIPTORS})`);
    }
    // The descriptor list, in the device's format, in memory the device reads by DMA.
    const list = new DataView(this.#list.buffer);
    segments.forEach((s, i) => {
      list.setBigUint64(i * GATHER_DESCRIPTOR_SIZE, s.iova, true);
      list.setUint32(i * GATHER_DESCRIPTOR_SIZE + 8, s.length, true);
      list.setUint32(i * GATHER_DESCRIPTOR_SIZE + 12, 0, true);
    });
    await this.#write64(GATHER_LIST_LO, this.#list.iova);
    await this.#dev.write32(BAR0, GATHER_COUNT, segments.length);
    await this.#write64(GATHER_DEST_LO, dest);
    await this.#dev.write32(BAR0, GATHER_GO, vector);

    // Completion or failure: whichever vector fires first. The other wait is abandoned,
    // which takes no interrupt from it.
    const abandon = new AbortController();
    const wait = (v: number) =>
      this.#vectors[v]!.wait({ timeoutMs, signal: abandon.signal }).then(() => v);
    const waits = [wait(vector), wait(GATHER_ERROR_VECTOR)];
    try {
      await Promise.race(waits);
    } finally {
      abandon.abort();
      await Promise.allSettled(waits);
    }
    if ((await this.#dev.read32(BAR0, GATHER_STATUS)) !== STATUS_DONE) {
      const errno = await this.#dev.read32(BAR0, GATHER_ERROR);
      throw new VfioError(errno || "EIO", `the gather failed on the device: ${errnoName(errno)}`);
    }
    return this.#dev.read32(BAR0, GATHER_BYTES);
  }

  /** Disables the vectors and frees the descriptor list; the device stays open. */
  async close(): Promise<void> {
    await this.#dev.irqs.disable(VFIO_PCI_MSIX_IRQ_INDEX);
    await this.#list.free();
  }

  async #write64(lo: number, value: bigint): Promise<void> {
    await this.#dev.write32(BAR0, lo, Number(value & 0xffffffffn));
    await this.#dev.write32(BAR0, lo + 4, Number(value >> 32n));
  }
}
