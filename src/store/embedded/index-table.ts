import { Bound } from "./bson-order.js";
import type { KeyField } from "./index-keys.js";
import { encodeIndexKey } from "./key-codec.js";
import type { PageRow } from "./packed-pages.js";
import type { Storage } from "./storage.js";

/**
 * One regular index as a SQLite table of (encoded key, rid). Scans read it in pages joined with
 * the documents, so no SQLite statement stays open while a caller holds the generator (a
 * command may write between two pages), and a `limit 1` probe reads one small page only.
 */

const FIRST_PAGE = 8;
const MAX_PAGE = 1_024;

export class IndexTable {
  constructor(
    private readonly storage: Storage,
    readonly ixId: number,
    private readonly fields: readonly KeyField[],
  ) {}

  encode(key: readonly unknown[]): Buffer {
    return encodeIndexKey(key, this.fields);
  }

  add(key: Buffer, rid: number): void {
    this.storage.insertIndexEntry(this.ixId, key, rid);
  }

  remove(key: Buffer, rid: number): void {
    this.storage.deleteIndexEntry(this.ixId, key, rid);
  }

  /** Whether a document other than `rid` holds this key. */
  hasOther(key: Buffer, rid: number): boolean {
    return this.storage.indexHasOther(this.ixId, key, rid);
  }

  /** Entries with lower <= key <= upper (bounds in index order), each with its document. */
  *rows(lower: readonly unknown[], upper: readonly unknown[], reverse = false): Generator<PageRow> {
    const lo = this.encode(lower);
    const hi = this.encode(upper);
    let limit = FIRST_PAGE;
    let after: { key: Buffer; rid: number } | undefined;
    for (;;) {
      const { rows, lastKey } = this.storage.indexPage(this.ixId, lo, hi, after, reverse, limit);
      yield* rows;
      if (rows.length < limit || !lastKey) return;
      after = { key: lastKey, rid: rows[rows.length - 1]!.rid };
      limit = Math.min(limit * 4, MAX_PAGE);
    }
  }

  /** Every entry, in index order or reversed. */
  all(reverse = false): Generator<PageRow> {
    const lower = this.fields.map((f) => (f.direction === 1 ? Bound.min : Bound.max));
    const upper = this.fields.map((f) => (f.direction === 1 ? Bound.max : Bound.min));
    return this.rows(lower, upper, reverse);
  }
}
