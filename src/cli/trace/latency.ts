import type { ChannelName, Direction } from "./record.js";

/**
 * Matches replies to requests for latency: a reply going one way answers the
 * oldest outstanding request with the same id that went the other way on the same
 * channel (ids may repeat while earlier requests are pending, hence a queue).
 */
export class LatencyTracker {
  readonly #pending = new Map<string, number[]>();

  request(channel: ChannelName, dir: Direction, id: number, time: number): void {
    const key = `${channel}:${dir}:${id}`;
    const q = this.#pending.get(key);
    if (q === undefined) this.#pending.set(key, [time]);
    else q.push(time);
  }

  /** Milliseconds since the matching request, or undefined when none is pending. */
  reply(channel: ChannelName, dir: Direction, id: number, time: number): number | undefined {
    const key = `${channel}:${dir === "c2s" ? "s2c" : "c2s"}:${id}`;
    const q = this.#pending.get(key);
    if (q === undefined) return undefined;
    const start = q.shift()!;
    if (q.length === 0) this.#pending.delete(key);
    return time - start;
  }

  get outstanding(): number {
    let n = 0;
    for (const q of this.#pending.values()) n += q.length;
    return n;
  }
}
