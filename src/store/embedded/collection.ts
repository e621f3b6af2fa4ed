import { BSON, type Document } from "bson";
import { formatDocument, keyOf } from "./bson-key.js";
import { compareValues, EMPTY_ARRAY_KEY } from "./bson-order.js";
import { type DocPair, decodeDocument, makePair } from "./bson-values.js";
import type { DocumentCache } from "./doc-cache.js";
import { CommandError, commandError } from "./errors.js";
import { documentKeys, type KeyField, tupleKey } from "./index-keys.js";
import { ID_INDEX, type IndexSpec, isTextSpec, keyFields, textOptions } from "./index-spec.js";
import type { QueryEngine } from "./mingo-engine.js";
import { type IndexEntry, SortedIndex } from "./sorted-index.js";
import type { Storage, StoredRow } from "./storage.js";
import { TextIndex } from "./text-search.js";

export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** A document as held in memory. Immutable: updates store a new object under the same key. */
export interface StoredDoc extends DocPair {
  /** Canonical `_id` key (bson-key.ts); also the SQLite primary key. */
  readonly key: string;
  /** Record order: natural order and the tie-breaker inside index entries. */
  readonly seq: number;
  readonly size: number;
}

export interface IndexRuntime {
  readonly spec: IndexSpec;
  readonly fields: readonly KeyField[];
  /** Ordered entries for regular indexes; absent for text indexes. */
  readonly tree: SortedIndex | undefined;
  readonly text: TextIndex | undefined;
  readonly partial: ((typed: Document) => boolean) | undefined;
  /** Set once any document had an array under an indexed path; never cleared (as mongod). */
  multikey: boolean;
}

export interface CollectionDeps {
  readonly storage: Storage;
  /** Decoded documents recently used, shared by all collections (keys prefixed by table). */
  readonly cache: DocumentCache<StoredDoc>;
  readonly engine: QueryEngine;
  /** Registers how to revert an in-memory change should the enclosing SQLite transaction fail. */
  readonly onRollback: (undo: () => void) => void;
}

export interface CollectionInfo {
  readonly db: string;
  readonly name: string;
  readonly tableId: number;
  readonly options: Document;
}

function compareTuples(fields: readonly KeyField[]) {
  if (fields.length === 1) {
    const direction = fields[0]!.direction;
    return (a: readonly unknown[], b: readonly unknown[]): number =>
      compareValues(a[0], b[0]) * direction;
  }
  return (a: readonly unknown[], b: readonly unknown[]): number => {
    for (let i = 0; i < fields.length; i++) {
      const c = compareValues(a[i], b[i]);
      if (c !== 0) return c * fields[i]!.direction;
    }
    return 0;
  };
}

export function duplicateKeyError(
  ns: string,
  index: IndexRuntime,
  key: readonly unknown[],
): CommandError {
  const keyValue: Document = {};
  index.fields.forEach((f, i) => {
    const v = key[i];
    keyValue[f.path] = v === EMPTY_ARRAY_KEY ? undefined : (v ?? null);
  });
  return commandError(
    "DuplicateKey",
    `E11000 duplicate key error collection: ${ns} index: ${index.spec.name} dup key: ${formatDocument(keyValue)}`,
    { keyPattern: index.spec.key, keyValue },
  );
}

/**
 * A collection's documents, read from SQLite on demand through the shared cache. Read API of a
 * Map (get / values / size), so callers do not care where documents live. `values()` reads in
 * natural order, page by page, without filling the cache (a scan must not evict the working set).
 */
export class DocumentStore {
  count = 0;
  bytes = 0;

  constructor(
    private readonly owner: { readonly tableId: number },
    private readonly deps: CollectionDeps,
  ) {}

  private cacheKey(key: string): string {
    return `${this.owner.tableId}:${key}`;
  }

  get size(): number {
    return this.count;
  }

  /** The document with this `_id` key; `seq` (its rid, known from an index entry) is faster. */
  get(key: string, seq?: number): StoredDoc | undefined {
    const cached = this.deps.cache.get(this.cacheKey(key));
    if (cached) return cached;
    const row =
      seq === undefined
        ? this.deps.storage.getDocument(this.owner.tableId, key)
        : this.deps.storage.getDocumentByRid(this.owner.tableId, seq);
    if (!row || row.id !== key) return undefined;
    const doc = storedDoc(row);
    this.deps.cache.set(this.cacheKey(key), doc);
    return doc;
  }

  /**
   * Like get, for reads of many documents (index scans): uses the cache but does not fill it,
   * so one large query does not evict the working set or hold its documents in memory.
   */
  read(key: string, seq: number): StoredDoc | undefined {
    const { cache } = this.deps;
    const cached = cache.peek(this.cacheKey(key));
    cache.countHit(cached !== undefined);
    if (cached) return cached;
    const row = this.deps.storage.getDocumentByRid(this.owner.tableId, seq);
    return row && row.id === key ? storedDoc(row) : undefined;
  }

  *values(): Generator<StoredDoc> {
    const { cache } = this.deps;
    for (const row of this.deps.storage.loadDocuments(this.owner.tableId)) {
      const cached = cache.peek(this.cacheKey(row.id));
      cache.countHit(cached !== undefined);
      yield cached ?? storedDoc(row);
    }
  }

  /** Records a document just written (the row is already in SQLite). */
  remember(doc: StoredDoc): void {
    this.deps.cache.set(this.cacheKey(doc.key), doc);
  }

  forget(key: string): void {
    this.deps.cache.delete(this.cacheKey(key));
  }

  forgetAll(): void {
    this.deps.cache.deletePrefix(`${this.owner.tableId}:`);
  }
}

function storedDoc(row: StoredRow): StoredDoc {
  const pair = makePair(decodeDocument(row.doc));
  return { ...pair, key: row.id, seq: row.rid, size: row.doc.length };
}

export class Collection {
  readonly docs: DocumentStore;
  private indexList: IndexRuntime[] = [];
  private info: CollectionInfo;

  constructor(
    info: CollectionInfo,
    specs: readonly IndexSpec[],
    private readonly deps: CollectionDeps,
  ) {
    this.info = info;
    this.docs = new DocumentStore(this, deps);
    for (const spec of specs.length ? specs : [ID_INDEX])
      this.indexList.push(this.buildRuntime(spec));
  }

  get db(): string {
    return this.info.db;
  }
  get name(): string {
    return this.info.name;
  }
  get ns(): string {
    return `${this.info.db}.${this.info.name}`;
  }
  get tableId(): number {
    return this.info.tableId;
  }
  get options(): Document {
    return this.info.options;
  }
  get dataSize(): number {
    return this.docs.bytes;
  }
  get indexes(): readonly IndexRuntime[] {
    return this.indexList;
  }

  rename(db: string, name: string): void {
    this.info = { ...this.info, db, name };
  }

  specs(): IndexSpec[] {
    return this.indexList.map((ix) => ix.spec);
  }

  /**
   * Builds the in-memory indexes from one stored row; trusts it (it passed every check when
   * written). The decoded document is not kept: documents stay in SQLite.
   */
  loadRow(row: StoredRow): void {
    const doc = storedDoc(row);
    this.docs.count++;
    this.docs.bytes += doc.size;
    for (const ix of this.indexList) {
      try {
        this.addEntries(ix, doc, this.keysFor(ix, doc.typed));
      } catch {
        // A document the index cannot represent stays out of it, as it did when written.
      }
    }
  }

  private buildRuntime(spec: IndexSpec): IndexRuntime {
    const fields = keyFields(spec);
    const text = isTextSpec(spec) ? new TextIndex(textOptions(spec)) : undefined;
    const partial = spec.partialFilterExpression
      ? this.deps.engine.compileFilter(spec.partialFilterExpression)
      : undefined;
    return {
      spec,
      fields,
      tree: text ? undefined : new SortedIndex(compareTuples(fields)),
      text,
      partial,
      multikey: false,
    };
  }

  /** Index keys of a typed document (none when a partial or sparse index skips it). */
  private keysFor(ix: IndexRuntime, doc: Document): unknown[][] {
    if (ix.text) return [];
    if (ix.partial && !ix.partial(doc)) return [];
    const { keys, multikey } = documentKeys(doc, ix.fields, ix.spec.sparse === true);
    if (multikey) ix.multikey = true;
    return keys;
  }

  private addEntries(ix: IndexRuntime, doc: StoredDoc, keys: unknown[][]): void {
    if (ix.text) {
      ix.text.add(doc.key, doc.typed);
      return;
    }
    for (const key of keys) ix.tree!.insert({ key, seq: doc.seq, id: doc.key });
  }

  private removeEntries(ix: IndexRuntime, doc: StoredDoc, keys: unknown[][]): void {
    if (ix.text) {
      ix.text.remove(doc.key, doc.typed);
      return;
    }
    for (const key of keys) ix.tree!.remove({ key, seq: doc.seq, id: doc.key });
  }

  private assertUnique(ix: IndexRuntime, keys: unknown[][], ownKey: string | undefined): void {
    if (!isUnique(ix) || !ix.tree) return;
    for (const key of keys) {
      for (const entry of ix.tree.equal(key)) {
        if (entry.id !== ownKey) throw duplicateKeyError(this.ns, ix, key);
      }
    }
  }

  private encode(pair: DocPair): Buffer {
    const bson = BSON.serialize(pair.typed, { ignoreUndefined: true });
    const bytes = Buffer.from(bson.buffer, bson.byteOffset, bson.byteLength);
    if (bytes.length > MAX_BSON_SIZE) {
      throw new CommandError(
        10334,
        `BSONObj size: ${bytes.length} (0x${bytes.length.toString(16)}) is invalid. Size must be between 0 and 16793600(16MB)`,
      );
    }
    return bytes;
  }

  /** Inserts after checking every unique index; nothing changes when it throws. */
  insert(pair: DocPair): StoredDoc {
    const key = keyOf(pair.typed._id);
    const planned = this.indexList.map((ix) => this.keysFor(ix, pair.typed));
    this.indexList.forEach((ix, i) => {
      this.assertUnique(ix, planned[i]!, undefined);
    });
    const bytes = this.encode(pair);
    const rid = this.deps.storage.insertDocument(this.tableId, key, bytes);
    const doc: StoredDoc = { ...pair, key, seq: rid, size: bytes.length };
    this.link(doc, planned);
    this.deps.onRollback(() => this.unlink(doc, planned));
    return doc;
  }

  /** Replaces a document by a new version with the same `_id`. */
  replace(old: StoredDoc, pair: DocPair): StoredDoc {
    const oldKeys = this.indexList.map((ix) => this.keysFor(ix, old.typed));
    const newKeys = this.indexList.map((ix) => this.keysFor(ix, pair.typed));
    this.indexList.forEach((ix, i) => {
      this.assertUnique(ix, newKeys[i]!, old.key);
    });
    const bytes = this.encode(pair);
    this.deps.storage.updateDocument(this.tableId, old.key, bytes);
    const doc: StoredDoc = { ...pair, key: old.key, seq: old.seq, size: bytes.length };
    this.swap(old, doc, oldKeys, newKeys);
    this.deps.onRollback(() => this.swap(doc, old, newKeys, oldKeys));
    return doc;
  }

  remove(doc: StoredDoc): void {
    const keys = this.indexList.map((ix) => this.keysFor(ix, doc.typed));
    this.deps.storage.deleteDocument(this.tableId, doc.key);
    this.unlink(doc, keys);
    this.deps.onRollback(() => this.link(doc, keys));
  }

  /** Deletes every document at once (drop of all contents, e.g. for $out). */
  clear(): void {
    const before = { indexes: this.indexList, count: this.docs.count, bytes: this.docs.bytes };
    this.deps.storage.clearCollection(this.tableId);
    this.indexList = before.indexes.map((ix) => this.buildRuntime(ix.spec));
    this.docs.count = 0;
    this.docs.bytes = 0;
    this.docs.forgetAll();
    this.deps.onRollback(() => {
      this.indexList = before.indexes;
      this.docs.count = before.count;
      this.docs.bytes = before.bytes;
      this.docs.forgetAll();
    });
  }

  private link(doc: StoredDoc, keys: unknown[][][]): void {
    this.docs.remember(doc);
    this.docs.count++;
    this.docs.bytes += doc.size;
    this.indexList.forEach((ix, i) => {
      this.addEntries(ix, doc, keys[i]!);
    });
  }

  private unlink(doc: StoredDoc, keys: unknown[][][]): void {
    this.docs.forget(doc.key);
    this.docs.count--;
    this.docs.bytes -= doc.size;
    this.indexList.forEach((ix, i) => {
      this.removeEntries(ix, doc, keys[i]!);
    });
  }

  private swap(
    from: StoredDoc,
    to: StoredDoc,
    fromKeys: unknown[][][],
    toKeys: unknown[][][],
  ): void {
    this.docs.remember(to);
    this.docs.bytes += to.size - from.size;
    this.indexList.forEach((ix, i) => {
      const before = fromKeys[i]!;
      const after = toKeys[i]!;
      if (!ix.text && sameKeys(before, after)) return;
      this.removeEntries(ix, from, before);
      this.addEntries(ix, to, after);
    });
  }

  /** Builds a new index over the current documents; fails (changing nothing) on duplicates. */
  addIndex(spec: IndexSpec): void {
    const ix = this.buildRuntime(spec);
    const seen = new Map<string, string>();
    const added: [StoredDoc, unknown[][]][] = [];
    for (const doc of this.docs.values()) {
      const keys = this.keysFor(ix, doc.typed);
      if (isUnique(ix)) {
        for (const key of keys) {
          const k = tupleKey(key);
          const other = seen.get(k);
          if (other !== undefined && other !== doc.key) throw duplicateKeyError(this.ns, ix, key);
          seen.set(k, doc.key);
        }
      }
      added.push([doc, keys]);
    }
    for (const [doc, keys] of added) this.addEntries(ix, doc, keys);
    this.indexList.push(ix);
    this.deps.storage.setIndexes(this.tableId, this.specs());
    this.deps.onRollback(() => {
      this.indexList = this.indexList.filter((x) => x !== ix);
    });
  }

  dropIndex(name: string): void {
    const before = this.indexList;
    this.indexList = before.filter((ix) => ix.spec.name !== name);
    this.deps.storage.setIndexes(this.tableId, this.specs());
    this.deps.onRollback(() => {
      this.indexList = before;
    });
  }

  /** Changes an index's TTL in place (collMod). */
  setExpireAfterSeconds(name: string, seconds: number): number | undefined {
    const ix = this.indexList.find((x) => x.spec.name === name);
    if (!ix) return undefined;
    const previous = ix.spec.expireAfterSeconds;
    const updated = { ...ix.spec, expireAfterSeconds: seconds };
    this.indexList = this.indexList.map((x) => (x === ix ? { ...ix, spec: updated } : x));
    this.deps.storage.setIndexes(this.tableId, this.specs());
    return previous;
  }

  findIndex(name: string): IndexRuntime | undefined {
    return this.indexList.find((ix) => ix.spec.name === name);
  }

  textIndex(): IndexRuntime | undefined {
    return this.indexList.find((ix) => ix.text !== undefined);
  }
}

/** `_id_` is unique without saying so in its spec, as in mongod's listIndexes output. */
export function isUnique(ix: IndexRuntime): boolean {
  return ix.spec.unique === true || ix.spec.name === "_id_";
}

function sameKeys(a: unknown[][], b: unknown[][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (tupleKey(a[i]!) !== tupleKey(b[i]!)) return false;
  }
  return true;
}

export type { IndexEntry };
