import type { ClientInfo, DmaWindowInfo } from "../device.js";

/** A device callback the device has not had yet: a DMA window or a client came or went. */
export type HeldEvent =
  | { readonly kind: "map" | "unmap"; readonly window: DmaWindowInfo }
  | { readonly kind: "attach"; readonly client: ClientInfo }
  | { readonly kind: "detach" };

/**
 * The onDmaMap/onDmaUnmap/onAttach/onDetach calls a stopped device is owed, delivered in
 * order when it runs again. What came and went while the device was stopped cancels
 * out: a window mapped and unmapped, a client that attached and detached (its windows
 * went with it). The device never learns of what is gone, and what is held stays
 * bounded by what exists (max_dma_maps windows, one client) plus what went since the
 * stop, however long a client maps, unmaps and reconnects while the device is stopped.
 */
export class HeldEvents {
  /** In order of arrival; keys are arrival numbers, so a cancelled event goes in O(1). */
  readonly #events = new Map<number, HeldEvent>();
  /** Windows whose map is held, by IOVA and size: their unmap cancels it. */
  readonly #heldMaps = new Map<string, number>();
  /** The held attach, if any: a detach cancels it. */
  #heldAttach: number | undefined;
  #next = 0;

  get size(): number {
    return this.#events.size;
  }

  hold(event: HeldEvent): void {
    switch (event.kind) {
      case "unmap": {
        const key = windowKey(event.window);
        const held = this.#heldMaps.get(key);
        if (held !== undefined) {
          this.#heldMaps.delete(key);
          this.#events.delete(held);
          return;
        }
        break;
      }
      case "detach":
        if (this.#heldAttach !== undefined) {
          this.#events.delete(this.#heldAttach);
          this.#heldAttach = undefined;
          return;
        }
        break;
    }
    const n = this.#next++;
    this.#events.set(n, event);
    if (event.kind === "map") this.#heldMaps.set(windowKey(event.window), n);
    if (event.kind === "attach") this.#heldAttach = n;
  }

  /** Everything held, in order; nothing is held afterwards. */
  take(): HeldEvent[] {
    const out = [...this.#events.values()];
    this.#events.clear();
    this.#heldMaps.clear();
    this.#heldAttach = undefined;
    return out;
  }
}

function windowKey(w: DmaWindowInfo): string {
  return `${w.iova}+${w.size}`;
}
