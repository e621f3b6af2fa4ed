import { BSON, type Document } from "bson";
import { formatDocument, keyOf } from "./bson-key.js";
import { EMPTY_ARRAY_KEY } from "./bson-order.js";
import { projectBson, readScalarFields } from "./bson-project.js";
import { type DocPair, decodeDocument, makePair } from "./bson-values.js";
import type { DocumentCache } from "./doc-cache.js";
import { CommandError, commandError } from "./errors.js";
import { documentKeys, type KeyField } from "./index-keys.js";
import { ID_INDEX, type IndexSpec, isTextSpec, keyFields, textOptions } from "./index-spec.js";
import { IndexTable } from "./index-table.js";
import type { QueryEngine } from "./mingo-engine.js";
import type { PageRow } from "./packed-pages.js";
import type { IndexTableRow, Storage, StoredRow } from "./storage.js";
import { TextIndex } from "./text-search.js";

export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** A document as held in memory. Immutable: updates store a new object under the same key. */
export interface StoredDoc extends DocPair {
  /** Canonical `_id` key (bson-key.ts); also the SQLite primary key. */
  readonly key: string;
  /** Record order: natural order and the tie-breaker inside index entries. */
  readonly seq: number;
  readonly size: number;
  /**
   * The stored BSON of a partial document (decoded only for the fields a query reads), so a
   * reply can send the whole document without decoding the rest.
   */
  readonly raw?: Buffer;
}

export interface IndexRuntime {
  readonly spec: IndexSpec;
  readonly fields: readonly KeyField[];
  /** The SQLite table of a regular index; absent for text indexes (see `text`). */
  readonly table: IndexTable | undefined;
  readonly text: TextIndex | undefined;
  readonly partial: ((typed: Document) => boolean) | undefined;
  /** Set once any document had an array under an indexed path; never cleared (as mongod). */
  multikey: boolean;
  /**
   * The top-level fields whose values decide the index's entries for a document; null when any
   * field may (a wildcard text index, a partial filter).
   */
  readonly reads: ReadonlySet<string> | null;
}

const topField = (path: string): string => path.split(".", 1)[0]!;

function fieldsRead(spec: IndexSpec, fields: readonly KeyField[], text: TextIndex | undefined) {
  if (spec.partialFilterExpression || text?.options.weights.size === 0) return null;
  const paths = text
    ? [...text.options.weights.keys(), text.options.languageOverride]
    : fields.map((f) => f.path);
  if (paths.some((path) => path.includes("$**"))) return null;
  return new Set(paths.map(topField));
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

  /**
   * A row just read (an index scan's join): the cached decoded copy when there is one. With
   * `fields`, a partial document of those top-level fields only, for a consumer that reads
   * nothing else (a streamed `$group`); such documents are never cached or returned.
   */
  fromRow(row: PageRow, fields?: ReadonlySet<string>): StoredDoc {
    // A few fields decode faster than a cache lookup; the row is as current as the cache.
    if (fields) {
      const scalars = readScalarFields(row.doc, fields);
      if (scalars) {
        const { typed, view } = scalars;
        return { typed, view, key: row.id, seq: row.rid, size: row.doc.length, raw: row.doc };
      }
      const projected = projectBson(row.doc, fields);
      // projectBson hands back its input when it cannot walk it: decode a copy, not the page.
      const own = projected === row.doc ? Buffer.from(row.doc) : projected;
      return { ...storedDoc({ ...row, doc: own }), raw: row.doc };
    }
    const { cache } = this.deps;
    const cached = cache.peek(this.cacheKey(row.id));
    cache.countHit(cached !== undefined);
    // The row's bytes may be a view into a whole page (packed-pages.ts), and bson's Binary
    // values keep a view of their input: decode a copy so the document holds only its own bytes.
    return cached ?? storedDoc({ ...row, doc: Buffer.from(row.doc) });
  }

  *values(fields?: ReadonlySet<string>): Generator<StoredDoc> {
    for (const row of this.deps.storage.loadDocuments(this.owner.tableId)) {
      yield this.fromRow(row, fields);
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

  /**
   * `tables` are the collection's index tables in SQLite; a regular index without one (a file
   * from before indexes lived in SQLite) is built by `buildMissingTables`.
   */
  constructor(
    info: CollectionInfo,
    specs: readonly IndexSpec[],
    private readonly deps: CollectionDeps,
    tables: readonly IndexTableRow[] = [],
    stats: { readonly documents: number; readonly dataBytes: number } = {
      documents: 0,
      dataBytes: 0,
    },
  ) {
    this.info = info;
    this.docs = new DocumentStore(this, deps);
    this.docs.count = stats.documents;
    this.docs.bytes = stats.dataBytes;
    for (const spec of specs.length ? specs : [ID_INDEX]) {
      const table = tables.find((t) => t.name === spec.name);
      this.indexList.push(this.buildRuntime(spec, table?.ixId, table?.multikey ?? false));
    }
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

  /** Whether an index has no SQLite table yet (see buildMissingTables). */
  hasMissingTables(): boolean {
    return this.indexList.some(missingTable);
  }

  /**
   * Creates and fills the tables of regular indexes that have none, in one pass over the rows
   * (call inside a transaction). Trusts the rows: they passed every check when written.
   */
  buildMissingTables(): void {
    const missing = this.indexList.filter(missingTable);
    if (missing.length === 0) return;
    const built = missing.map((ix) =>
      this.buildRuntime(
        ix.spec,
        this.deps.storage.createIndexTable(this.tableId, ix.spec.name, ix.text ? "text" : "keys"),
      ),
    );
    for (const doc of this.docs.values()) {
      for (const ix of built) {
        try {
          if (ix.text) ix.text.add(doc.seq, doc.typed);
          else for (const key of this.encodedKeys(ix, doc.typed)) ix.table!.add(key, doc.seq);
        } catch {
          // A document the index cannot represent stays out of it, as it did when written.
        }
      }
    }
    this.indexList = this.indexList.map((ix) => built.find((b) => b.spec === ix.spec) ?? ix);
  }

  private buildRuntime(spec: IndexSpec, ixId?: number, multikey = false): IndexRuntime {
    const fields = keyFields(spec);
    const text = isTextSpec(spec)
      ? new TextIndex(textOptions(spec), this.deps.storage, ixId)
      : undefined;
    const partial = spec.partialFilterExpression
      ? this.deps.engine.compileFilter(spec.partialFilterExpression)
      : undefined;
    return {
      spec,
      fields,
      table:
        text || ixId === undefined ? undefined : new IndexTable(this.deps.storage, ixId, fields),
      text,
      partial,
      multikey,
      reads: fieldsRead(spec, fields, text),
    };
  }

  /** Index keys of a typed document (none when a partial or sparse index skips it). */
  private keysFor(ix: IndexRuntime, doc: Document): unknown[][] {
    if (ix.text) return [];
    if (ix.partial && !ix.partial(doc)) return [];
    const { keys, multikey } = documentKeys(doc, ix.fields, ix.spec.sparse === true);
    if (multikey && !ix.multikey) {
      ix.multikey = true;
      // Persisted so that plans stay correct after a restart; a rollback leaves it set, which
      // only makes plans more conservative.
      if (ix.table) this.deps.storage.setMultikey(ix.table.ixId);
    }
    return keys;
  }

  private encodedKeys(ix: IndexRuntime, doc: Document): Buffer[] {
    return this.keysFor(ix, doc).map((k) => ix.table!.encode(k));
  }

  private plan(doc: Document): PlannedKeys[] {
    return this.indexList.map((ix) => this.planOne(ix, doc));
  }

  private planOne(ix: IndexRuntime, doc: Document): PlannedKeys {
    const raw = this.keysFor(ix, doc);
    return { raw, encoded: ix.table ? raw.map((k) => ix.table!.encode(k)) : [] };
  }

  private assertUnique(ix: IndexRuntime, keys: PlannedKeys, ownRid: number): void {
    if (!isUnique(ix) || !ix.table) return;
    keys.encoded.forEach((key, i) => {
      if (ix.table!.hasOther(key, ownRid)) throw duplicateKeyError(this.ns, ix, keys.raw[i]!);
    });
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
    const planned = this.plan(pair.typed);
    this.indexList.forEach((ix, i) => {
      this.assertUnique(ix, planned[i]!, -1);
    });
    const bytes = this.encode(pair);
    const rid = this.deps.storage.insertDocument(this.tableId, key, bytes);
    const doc: StoredDoc = { ...pair, key, seq: rid, size: bytes.length };
    this.indexList.forEach((ix, i) => {
      for (const k of planned[i]!.encoded) ix.table?.add(k, rid);
      ix.text?.add(rid, pair.typed);
    });
    this.link(doc);
    this.deps.onRollback(() => this.unlink(doc));
    return doc;
  }

  /**
   * Replaces a document by a new version with the same `_id`. `touched` names the top-level
   * fields the change may have altered (null: any), so indexes that read none of them keep their
   * entries without their keys being computed.
   */
  replace(old: StoredDoc, pair: DocPair, touched: ReadonlySet<string> | null = null): StoredDoc {
    const affected = this.indexList.map(
      (ix) => !touched || !ix.reads || [...ix.reads].some((field) => touched.has(field)),
    );
    const none: PlannedKeys = { raw: [], encoded: [] };
    const oldKeys = this.indexList.map((ix, i) =>
      affected[i] ? this.planOne(ix, old.typed) : none,
    );
    const newKeys = this.indexList.map((ix, i) =>
      affected[i] ? this.planOne(ix, pair.typed) : none,
    );
    this.indexList.forEach((ix, i) => {
      if (affected[i]) this.assertUnique(ix, newKeys[i]!, old.seq);
    });
    const bytes = this.encode(pair);
    this.deps.storage.updateDocument(this.tableId, old.key, bytes);
    const doc: StoredDoc = { ...pair, key: old.key, seq: old.seq, size: bytes.length };
    this.indexList.forEach((ix, i) => {
      if (!affected[i]) return;
      if (ix.text) {
        ix.text.replace(old.seq, old.typed, pair.typed);
        return;
      }
      const before = oldKeys[i]!.encoded;
      const after = newKeys[i]!.encoded;
      if (!ix.table || sameKeys(before, after)) return;
      for (const k of before) ix.table.remove(k, old.seq);
      for (const k of after) ix.table.add(k, old.seq);
    });
    this.swap(old, doc);
    this.deps.onRollback(() => this.swap(doc, old));
    return doc;
  }

  remove(doc: StoredDoc): void {
    const keys = this.plan(doc.typed);
    this.deps.storage.deleteDocument(this.tableId, doc.key);
    this.indexList.forEach((ix, i) => {
      for (const k of keys[i]!.encoded) ix.table?.remove(k, doc.seq);
      ix.text?.remove(doc.seq, doc.typed);
    });
    this.unlink(doc);
    this.deps.onRollback(() => this.link(doc));
  }

  /** Deletes every document at once (drop of all contents, e.g. for $out). */
  clear(): void {
    const before = { count: this.docs.count, bytes: this.docs.bytes };
    this.deps.storage.clearCollection(this.tableId);
    this.docs.count = 0;
    this.docs.bytes = 0;
    this.docs.forgetAll();
    this.deps.onRollback(() => {
      this.docs.count = before.count;
      this.docs.bytes = before.bytes;
      this.docs.forgetAll();
    });
  }

  /** In-memory side of an insert: cache and counters (SQLite holds the rest). */
  private link(doc: StoredDoc): void {
    this.docs.remember(doc);
    this.docs.count++;
    this.docs.bytes += doc.size;
  }

  private unlink(doc: StoredDoc): void {
    this.docs.forget(doc.key);
    this.docs.count--;
    this.docs.bytes -= doc.size;
  }

  private swap(from: StoredDoc, to: StoredDoc): void {
    this.docs.remember(to);
    this.docs.bytes += to.size - from.size;
  }

  /** Builds a new index over the current documents; fails (changing nothing) on duplicates. */
  addIndex(spec: IndexSpec): void {
    const ixId = this.deps.storage.createIndexTable(
      this.tableId,
      spec.name,
      isTextSpec(spec) ? "text" : "keys",
    );
    const ix = this.buildRuntime(spec, ixId);
    for (const doc of this.docs.values()) {
      if (ix.text) {
        ix.text.add(doc.seq, doc.typed);
        continue;
      }
      const raw = this.keysFor(ix, doc.typed);
      for (const key of raw) {
        const encoded = ix.table!.encode(key);
        if (isUnique(ix) && ix.table!.hasOther(encoded, doc.seq)) {
          throw duplicateKeyError(this.ns, ix, key);
        }
        ix.table!.add(encoded, doc.seq);
      }
    }
    this.indexList.push(ix);
    this.deps.storage.setIndexes(this.tableId, this.specs());
    this.deps.onRollback(() => {
      this.indexList = this.indexList.filter((x) => x !== ix);
    });
  }

  dropIndex(name: string): void {
    const before = this.indexList;
    const dropped = before.find((ix) => ix.spec.name === name);
    const droppedId = dropped?.table?.ixId ?? dropped?.text?.ixId;
    if (droppedId !== undefined) this.deps.storage.dropIndexTable(droppedId);
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

function missingTable(ix: IndexRuntime): boolean {
  return ix.text ? ix.text.ixId === undefined : !ix.table;
}

interface PlannedKeys {
  readonly raw: unknown[][];
  readonly encoded: Buffer[];
}

/** `_id_` is unique without saying so in its spec, as in mongod's listIndexes output. */
export function isUnique(ix: IndexRuntime): boolean {
  return ix.spec.unique === true || ix.spec.name === "_id_";
}

function sameKeys(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (!a[i]!.equals(b[i]!)) return false;
  }
  return true;
}
