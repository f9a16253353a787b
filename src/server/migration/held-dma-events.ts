import type { DmaWindowInfo } from "../device.js";

/** A DMA map or unmap the device has not been told of yet. */
export interface HeldDmaEvent {
  readonly kind: "map" | "unmap";
  readonly window: DmaWindowInfo;
}

/**
 * The onDmaMap/onDmaUnmap calls a stopped device is owed, delivered in order when it
 * runs again. A window mapped and unmapped while the device was stopped cancels out:
 * the device never learns of a window that is gone. What is held is so bounded by the
 * windows that exist (max_dma_maps) plus those unmapped since the stop, however long a
 * client maps and unmaps while the device stays stopped.
 */
export class HeldDmaEvents {
  /** In order of arrival; keys are arrival numbers, so a cancelled map is removed in O(1). */
  readonly #events = new Map<number, HeldDmaEvent>();
  /** Windows whose map is held, by IOVA and size: their unmap cancels it. */
  readonly #heldMaps = new Map<string, number>();
  #next = 0;

  get size(): number {
    return this.#events.size;
  }

  hold(kind: "map" | "unmap", window: DmaWindowInfo): void {
    const key = `${window.iova}+${window.size}`;
    if (kind === "unmap") {
      const held = this.#heldMaps.get(key);
      if (held !== undefined) {
        this.#heldMaps.delete(key);
        this.#events.delete(held);
        return;
      }
    }
    const n = this.#next++;
    this.#events.set(n, { kind, window });
    if (kind === "map") this.#heldMaps.set(key, n);
  }

  /** Everything held, in order; nothing is held afterwards. */
  take(): HeldDmaEvent[] {
    const out = [...this.#events.values()];
    this.#events.clear();
    this.#heldMaps.clear();
    return out;
  }
}
