/**
 * A namespace: NSID, LBA format and the backing store behind its blocks, plus the
 * range check every I/O command makes.
 */
import type { BackingStore } from "./backing.js";

export class Namespace {
  readonly nsid: number;
  readonly blockSize: number;
  /** log2(blockSize): the LBA format's LBADS. */
  readonly lbads: number;
  readonly blocks: number;
  readonly backing: BackingStore;

  constructor(nsid: number, backing: BackingStore, blockSize = 512) {
    if (![512, 4096].includes(blockSize)) throw new RangeError(`block size ${blockSize}`);
    this.nsid = nsid;
    this.backing = backing;
    this.blockSize = blockSize;
    this.lbads = Math.log2(blockSize);
    this.blocks = Math.floor(backing.size / blockSize);
  }

  /** True when [slba, slba + count) lies inside the namespace. */
  inRange(slba: bigint, count: number): boolean {
    return slba + BigInt(count) <= BigInt(this.blocks);
  }
}
