/**
 * An ordered multiset of index entries kept in fixed-size sorted blocks (a flat B+-tree):
 * inserts and removals cost a binary search plus a splice inside one small block, so bulk loads
 * of 100k documents stay cheap, and range scans walk blocks in order in either direction.
 */

export interface IndexEntry {
  /** One value per index field, already reduced to a single element for multikey fields. */
  readonly key: readonly unknown[];
  /** Record order of the document; breaks ties so equal keys come out in insertion order. */
  readonly seq: number;
  readonly id: string;
}

export type KeyComparator = (a: readonly unknown[], b: readonly unknown[]) => number;

const MAX_BLOCK = 512;

interface Position {
  block: number;
  offset: number;
}

export class SortedIndex {
  private blocks: IndexEntry[][] = [];
  private count = 0;

  constructor(private readonly compareKeys: KeyComparator) {}

  get size(): number {
    return this.count;
  }

  private compareEntries(a: IndexEntry, b: IndexEntry): number {
    return this.compareKeys(a.key, b.key) || a.seq - b.seq;
  }

  /** Index of the first block whose last entry is >= entry (or the last block). */
  private findBlock(entry: IndexEntry): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = this.blocks[mid]!;
      if (this.compareEntries(block[block.length - 1]!, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private static lowerBoundIn(
    block: IndexEntry[],
    before: (e: IndexEntry) => boolean,
    from = 0,
  ): number {
    let lo = from;
    let hi = block.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(block[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(entry: IndexEntry): void {
    this.count++;
    if (this.blocks.length === 0) {
      this.blocks.push([entry]);
      return;
    }
    // Appending is the common case (ObjectId _ids, timestamps, counters grow monotonically).
    const lastBlock = this.blocks[this.blocks.length - 1]!;
    const b =
      this.compareEntries(lastBlock[lastBlock.length - 1]!, entry) < 0
        ? this.blocks.length - 1
        : this.findBlock(entry);
    const block = this.blocks[b]!;
    const at =
      block === lastBlock && this.compareEntries(block[block.length - 1]!, entry) < 0
        ? block.length
        : SortedIndex.lowerBoundIn(block, (e) => this.compareEntries(e, entry) < 0);
    block.splice(at, 0, entry);
    if (block.length > MAX_BLOCK) {
      this.blocks.splice(b + 1, 0, block.splice(block.length >>> 1));
    }
  }

  remove(entry: IndexEntry): boolean {
    if (this.blocks.length === 0) return false;
    const b = this.findBlock(entry);
    const block = this.blocks[b]!;
    const at = SortedIndex.lowerBoundIn(block, (e) => this.compareEntries(e, entry) < 0);
    const found = block[at];
    if (!found || found.id !== entry.id || this.compareEntries(found, entry) !== 0) return false;
    block.splice(at, 1);
    this.count--;
    if (block.length === 0) this.blocks.splice(b, 1);
    return true;
  }

  /** First position whose key is >= bound (inclusive) or > bound (exclusive). */
  private seek(bound: readonly unknown[], inclusive: boolean): Position {
    const before = inclusive
      ? (e: IndexEntry) => this.compareKeys(e.key, bound) < 0
      : (e: IndexEntry) => this.compareKeys(e.key, bound) <= 0;
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = this.blocks[mid]!;
      if (before(block[block.length - 1]!)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.blocks.length) return { block: lo, offset: 0 };
    return { block: lo, offset: SortedIndex.lowerBoundIn(this.blocks[lo]!, before) };
  }

  /** Entries with lower <= key <= upper (bounds compare as key prefixes), in index order. */
  *range(
    lower: readonly unknown[],
    upper: readonly unknown[],
    reverse = false,
  ): Generator<IndexEntry> {
    if (!reverse) {
      let { block, offset } = this.seek(lower, true);
      for (; block < this.blocks.length; block++, offset = 0) {
        const entries = this.blocks[block]!;
        for (; offset < entries.length; offset++) {
          const e = entries[offset]!;
          if (this.compareKeys(e.key, upper) > 0) return;
          yield e;
        }
      }
      return;
    }
    const end = this.seek(upper, false);
    let block = end.block;
    let offset = end.offset - 1;
    for (; block >= 0; block--) {
      const entries = this.blocks[block];
      if (!entries) {
        offset = (this.blocks[block - 1]?.length ?? 0) - 1;
        continue;
      }
      for (; offset >= 0; offset--) {
        const e = entries[offset]!;
        if (this.compareKeys(e.key, lower) < 0) return;
        yield e;
      }
      offset = (this.blocks[block - 1]?.length ?? 0) - 1;
    }
  }

  *all(reverse = false): Generator<IndexEntry> {
    if (!reverse) {
      for (const block of this.blocks) yield* block;
      return;
    }
    for (let b = this.blocks.length - 1; b >= 0; b--) {
      const block = this.blocks[b]!;
      for (let i = block.length - 1; i >= 0; i--) yield block[i]!;
    }
  }

  /** Entries whose key equals `key` exactly (all fields). */
  *equal(key: readonly unknown[]): Generator<IndexEntry> {
    yield* this.range(key, key);
  }

  clear(): void {
    this.blocks = [];
    this.count = 0;
  }
}
