import type { Document } from "bson";
import { Collection, type StoredDoc } from "./collection.js";
import type { DocumentCache } from "./doc-cache.js";
import { commandError } from "./errors.js";
import { createWriteGroup, type WriteGroup } from "./group-commit.js";
import { ID_INDEX, type IndexSpec } from "./index-spec.js";
import type { QueryEngine } from "./mingo-engine.js";
import type { CatalogRow, Storage } from "./storage.js";

/**
 * Every database and collection: names and options from SQLite's catalog table, documents and
 * indexes (regular and text) in SQLite (documents read through the shared cache), so opening a
 * collection reads nothing but its catalog rows; only the tables of indexes created before
 * indexes lived in SQLite are built from the rows, once (`loadAll`).
 * Also owns the write unit: one savepoint per write command in the group transaction
 * (group-commit.ts), plus an undo log that reverts the in-memory state (cache, counters) if the
 * command or its group's commit fails.
 */

/** Collections opened so far (`loaded` of `total`), the last one being `ns`. */
export interface LoadProgress {
  readonly ns: string;
  readonly loaded: number;
  readonly total: number;
}

interface Entry {
  row: CatalogRow;
  collection: Collection | undefined;
}

const nsOf = (db: string, name: string): string => `${db}.${name}`;

const INVALID_DB_CHARS = /[/\\. "$*<>:|?\0]/;

export function validateDbName(db: string): void {
  if (db.length === 0 || db.length > 63 || INVALID_DB_CHARS.test(db)) {
    throw commandError("InvalidNamespace", `Invalid database name: '${db}'`);
  }
}

export function validateCollectionName(db: string, name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.includes("$") || name.includes("\0")) {
    throw commandError("InvalidNamespace", `Invalid namespace specified '${db}.${String(name)}'`);
  }
}

export class Catalog {
  private readonly entries = new Map<string, Entry>();
  private undoLog: (() => void)[] | undefined;
  /** Collections whose index tables were built from their rows (files from before them). */
  private tableBuilds = 0;

  constructor(
    private readonly storage: Storage,
    private readonly engine: QueryEngine,
    private readonly cache: DocumentCache<StoredDoc>,
    /** Where write commands commit; by default a group of its own over `storage`. */
    readonly writes: WriteGroup = createWriteGroup({ storage }),
  ) {
    for (const row of storage.catalog()) {
      this.entries.set(nsOf(row.db, row.name), { row, collection: undefined });
    }
  }

  /**
   * Runs one write command atomically in the group transaction (joins an enclosing command).
   * Durable once `writes.afterCommit` settles.
   */
  write<T>(fn: () => T): T {
    if (this.undoLog) return fn();
    const undo: (() => void)[] = [];
    this.undoLog = undo;
    try {
      return this.writes.run(fn, undo);
    } finally {
      this.undoLog = undefined;
    }
  }

  private onRollback(fn: () => void): void {
    this.undoLog?.push(fn);
  }

  private newCollection(row: CatalogRow): Collection {
    const collection = new Collection(
      { db: row.db, name: row.name, tableId: row.tableId, options: row.options },
      row.indexes as IndexSpec[],
      {
        storage: this.storage,
        engine: this.engine,
        cache: this.cache,
        onRollback: (fn) => this.onRollback(fn),
      },
      this.storage.indexTables(row.tableId),
      { documents: row.documents, dataBytes: row.dataBytes },
    );
    if (collection.hasMissingTables()) {
      this.write(() => collection.buildMissingTables());
      this.tableBuilds++;
    }
    return collection;
  }

  private materialize(entry: Entry): Collection {
    if (!entry.collection) entry.collection = this.newCollection(entry.row);
    return entry.collection;
  }

  /**
   * Opens every collection. Regular indexes are SQLite tables, so this is instant unless a
   * collection has a text index (built from its rows, yielding to the event loop between
   * pages so the server keeps answering handshakes, with progress) or predates index tables
   * (built once, at the first start after the upgrade). Commands must wait for it.
   */
  async loadAll(
    onProgress: (progress: LoadProgress) => void,
    shouldStop: () => boolean,
    sliceMs = 50,
  ): Promise<void> {
    const entries = [...this.entries.values()];
    let sliceStart = performance.now();
    for (const [i, entry] of entries.entries()) {
      if (shouldStop()) return;
      if (entry.collection) continue;
      // Instant, unless the collection's index tables must first be built (an upgrade).
      const builds = this.tableBuilds;
      entry.collection = this.newCollection(entry.row);
      if (this.tableBuilds !== builds || performance.now() - sliceStart > sliceMs) {
        onProgress({
          ns: nsOf(entry.row.db, entry.row.name),
          loaded: i + 1,
          total: entries.length,
        });
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  }

  get(db: string, name: string): Collection | undefined {
    const entry = this.entries.get(nsOf(db, name));
    return entry ? this.materialize(entry) : undefined;
  }

  /** The collection if it is already in memory; never loads one (for cheap statistics). */
  peek(db: string, name: string): Collection | undefined {
    return this.entries.get(nsOf(db, name))?.collection;
  }

  has(db: string, name: string): boolean {
    return this.entries.has(nsOf(db, name));
  }

  /** The collection, created implicitly as MongoDB does on first write. Call inside write(). */
  getOrCreate(db: string, name: string): { collection: Collection; created: boolean } {
    const existing = this.get(db, name);
    if (existing) return { collection: existing, created: false };
    return { collection: this.create(db, name, {}), created: true };
  }

  create(db: string, name: string, options: Document): Collection {
    validateDbName(db);
    validateCollectionName(db, name);
    const ns = nsOf(db, name);
    if (this.entries.has(ns)) {
      throw commandError("NamespaceExists", `Collection ${ns} already exists.`);
    }
    const indexes = [ID_INDEX];
    const tableId = this.storage.createCollection(db, name, options, indexes);
    const entry: Entry = {
      row: { tableId, db, name, options, indexes, documents: 0, dataBytes: 0 },
      collection: undefined,
    };
    entry.collection = this.newCollection(entry.row);
    this.entries.set(ns, entry);
    this.onRollback(() => this.entries.delete(ns));
    return entry.collection;
  }

  /** Drops a collection; returns how many indexes it had, or undefined when it did not exist. */
  drop(db: string, name: string): number | undefined {
    const ns = nsOf(db, name);
    const entry = this.entries.get(ns);
    if (!entry) return undefined;
    const count = entry.collection?.indexes.length ?? entry.row.indexes.length;
    this.storage.dropCollection(entry.row.tableId);
    entry.collection?.docs.forgetAll();
    this.entries.delete(ns);
    this.onRollback(() => this.entries.set(ns, entry));
    return count;
  }

  dropDatabase(db: string): void {
    for (const name of this.collectionNames(db)) this.drop(db, name);
  }

  rename(fromDb: string, from: string, toDb: string, to: string): void {
    validateDbName(toDb);
    validateCollectionName(toDb, to);
    const entry = this.entries.get(nsOf(fromDb, from));
    if (!entry) throw commandError("NamespaceNotFound", "Source collection does not exist");
    const collection = this.materialize(entry);
    this.storage.renameCollection(entry.row.tableId, toDb, to);
    this.entries.delete(nsOf(fromDb, from));
    const renamed: Entry = { row: { ...entry.row, db: toDb, name: to }, collection };
    this.entries.set(nsOf(toDb, to), renamed);
    collection.rename(toDb, to);
    this.onRollback(() => {
      this.entries.delete(nsOf(toDb, to));
      this.entries.set(nsOf(fromDb, from), entry);
      collection.rename(fromDb, from);
    });
  }

  databaseNames(): string[] {
    return [...new Set([...this.entries.values()].map((e) => e.row.db))].sort();
  }

  collectionNames(db: string): string[] {
    return [...this.entries.values()].filter((e) => e.row.db === db).map((e) => e.row.name);
  }

  collectionOptions(db: string, name: string): Document | undefined {
    return this.entries.get(nsOf(db, name))?.row.options;
  }

  /** Collections with a TTL index, for the TTL monitor. */
  ttlCollections(): Collection[] {
    const out: Collection[] = [];
    for (const entry of this.entries.values()) {
      const indexes = entry.collection?.specs() ?? (entry.row.indexes as IndexSpec[]);
      if (indexes.some((ix) => ix.expireAfterSeconds !== undefined))
        out.push(this.materialize(entry));
    }
    return out;
  }
}
