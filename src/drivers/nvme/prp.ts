/**
 * Physical Region Page entries (base spec 2.0, section 4.1.1): how a command tells the
 * controller where its data is. PRP1 points at the first byte (any dword-aligned
 * offset in its page); every later entry is a whole page. A transfer that touches two
 * pages puts the second in PRP2; a longer one puts in PRP2 the address of a PRP list,
 * a page of 8-byte entries whose last entry points to the next list page when more
 * entries are needed than one page holds.
 */

/** The PRP entries of `length` bytes at `iova`, contiguous in IOVA space. */
export function dataPages(iova: bigint, length: number, pageSize: number): bigint[] {
  if (length <= 0) throw new RangeError(`PRP: transfer length must be positive, got ${length}`);
  if ((iova & 3n) !== 0n) throw new RangeError(`PRP: 0x${iova.toString(16)} is not dword aligned`);
  const page = BigInt(pageSize);
  const first = Number(iova % page);
  const out = [iova];
  let base = iova - BigInt(first) + page;
  for (let covered = pageSize - first; covered < length; covered += pageSize) {
    out.push(base);
    base += page;
  }
  return out;
}

/** How many PRP list pages `entries` data entries need (0 when PRP1/PRP2 suffice). */
export function listPagesNeeded(entries: number, pageSize: number): number {
  if (entries <= 2) return 0;
  const inLists = entries - 1;
  const perPage = pageSize / 8;
  if (inLists <= perPage) return 1;
  // Every page but the last gives up its final slot to the chain pointer.
  return Math.ceil((inLists - 1) / (perPage - 1));
}

export interface PrpSet {
  readonly prp1: bigint;
  readonly prp2: bigint;
  /** List pages to write before submitting: `entries` at `iova`. */
  readonly lists: readonly { readonly iova: bigint; readonly entries: BigUint64Array }[];
}

/**
 * PRP1, PRP2 and the list pages for data `entries` (from dataPages), with the list
 * pages at `listIovas` (page aligned; at least listPagesNeeded of them).
 */
export function buildPrps(
  entries: readonly bigint[],
  listIovas: readonly bigint[],
  pageSize: number,
): PrpSet {
  if (entries.length === 0) throw new RangeError("PRP: no data pages");
  const prp1 = entries[0]!;
  if (entries.length === 1) return { prp1, prp2: 0n, lists: [] };
  if (entries.length === 2) return { prp1, prp2: entries[1]!, lists: [] };
  const needed = listPagesNeeded(entries.length, pageSize);
  if (listIovas.length < needed) {
    throw new RangeError(`PRP: ${entries.length} entries need ${needed} list pages`);
  }
  const perPage = pageSize / 8;
  const lists: { iova: bigint; entries: BigUint64Array }[] = [];
  let next = 1;
  for (let p = 0; p < needed; p++) {
    const page = new BigUint64Array(perPage);
    const last = p === needed - 1;
    const room = last ? perPage : perPage - 1;
    let i = 0;
    for (; i < room && next < entries.length; i++) page[i] = entries[next++]!;
    if (!last) page[perPage - 1] = listIovas[p + 1]!;
    lists.push({ iova: listIovas[p]!, entries: page });
  }
  return { prp1, prp2: listIovas[0]!, lists };
}

/**
 * The controller's reading of a PRP set: the [address, length] segments a transfer
 * of `length` bytes touches, following list pages through `readList`. Used to check
 * the builder, and as the reference of what a controller must do.
 */
export function walkPrps(
  prp1: bigint,
  prp2: bigint,
  length: number,
  pageSize: number,
  readList: (iova: bigint) => BigUint64Array,
): [bigint, number][] {
  const page = BigInt(pageSize);
  const firstLen = Math.min(length, pageSize - Number(prp1 % page));
  const out: [bigint, number][] = [[prp1, firstLen]];
  let left = length - firstLen;
  if (left === 0) return out;
  if (left <= pageSize) {
    out.push([prp2, left]);
    return out;
  }
  const perPage = pageSize / 8;
  let list = readList(prp2);
  let i = 0;
  while (left > 0) {
    if (i === perPage - 1 && left > pageSize) {
      list = readList(list[i]!);
      i = 0;
    }
    const n = Math.min(left, pageSize);
    out.push([list[i++]!, n]);
    left -= n;
  }
  return out;
}
