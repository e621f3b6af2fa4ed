/**
 * A bounded least-recently-used cache of decoded documents, shared by every collection of one
 * store. Documents live in SQLite; this only saves decoding recently used ones again. Its
 * budget is in bytes of estimated heap: a decoded document costs several times its BSON size
 * (object headers, property maps, strings), so entries are weighed at DECODED_FACTOR × BSON.
 */

export const DECODED_FACTOR = 6;

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  /** Estimated heap bytes held. */
  readonly bytes: number;
  readonly budgetBytes: number;
}

export class DocumentCache<T extends { readonly size: number }> {
  // A Map iterates in insertion order: re-inserting on use keeps the oldest first.
  private readonly entries = new Map<string, T>();
  private held = 0;
  private hitCount = 0;
  private missCount = 0;

  constructor(readonly budgetBytes: number) {}

  private weigh(value: T): number {
    return value.size * DECODED_FACTOR + 64;
  }

  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Looks without counting or refreshing (for scans that should not evict the working set). */
  peek(key: string): T | undefined {
    return this.entries.get(key);
  }

  countHit(hit: boolean): void {
    if (hit) this.hitCount++;
    else this.missCount++;
  }

  set(key: string, value: T): void {
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.held -= this.weigh(previous);
      this.entries.delete(key);
    }
    const weight = this.weigh(value);
    if (weight > this.budgetBytes) return;
    this.entries.set(key, value);
    this.held += weight;
    for (const [oldest, old] of this.entries) {
      if (this.held <= this.budgetBytes) break;
      this.entries.delete(oldest);
      this.held -= this.weigh(old);
    }
  }

  delete(key: string): void {
    const previous = this.entries.get(key);
    if (previous === undefined) return;
    this.held -= this.weigh(previous);
    this.entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (a dropped or cleared collection). */
  deletePrefix(prefix: string): void {
    for (const [key, value] of this.entries) {
      if (key.startsWith(prefix)) {
        this.entries.delete(key);
        this.held -= this.weigh(value);
      }
    }
  }

  stats(): CacheStats {
    return {
      hits: this.hitCount,
      misses: this.missCount,
      entries: this.entries.size,
      bytes: this.held,
      budgetBytes: this.budgetBytes,
    };
  }
}
