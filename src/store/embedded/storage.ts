import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BSON, type Document } from "bson";
import { decodeDocument } from "./bson-values.js";
import { type Page, type PageQuery, preparePage } from "./packed-pages.js";

/**
 * Durable state in one SQLite file: a catalog row per collection (options and index specs as
 * BSON, plus its document count and data size, kept by triggers in the same transaction as
 * each write), a table per collection holding BSON blobs keyed by the canonical `_id` key, and
 * a table per regular index (`ix_<n>`, listed in `index_catalog`): WITHOUT ROWID, clustered on
 * (key, rid), where key is the order-preserving encoding of key-codec.ts, so range scans are
 * SQLite B-tree scans and nothing of an index is held in memory; a text index's table holds
 * (term, rid, score), clustered on (term, rid).
 * WAL with synchronous=FULL. Writes that arrive together share one transaction (group commit,
 * see group-commit.ts): each write command runs in its own savepoint of the open transaction, and
 * no reply leaves before the COMMIT (one fsync) returned, so an acknowledged write survives kill -9.
 */

export const STORE_FILE = "loopgate-store.sqlite";

export interface CatalogRow {
  readonly tableId: number;
  readonly db: string;
  readonly name: string;
  readonly options: Document;
  readonly indexes: Document[];
  /** Kept by triggers on the collection's table. */
  readonly documents: number;
  readonly dataBytes: number;
}

export interface IndexTableRow {
  readonly ixId: number;
  readonly tableId: number;
  readonly name: string;
  /** Set once any document had an array under an indexed path; never cleared (as mongod). */
  readonly multikey: boolean;
}

export interface StoredRow {
  readonly id: string;
  /** SQLite rowid: the record's natural order, stable across updates. */
  readonly rid: number;
  readonly doc: Buffer;
}

interface TableStatements {
  insert: Database.Statement<[string, Buffer]>;
  update: Database.Statement<[Buffer, string]>;
  remove: Database.Statement<[string]>;
  get: Database.Statement<[string]>;
  byRid: Database.Statement<[number]>;
  page: PageQuery;
}

export interface Storage {
  readonly file: string;
  catalog(): CatalogRow[];
  /** Every row in natural order, read in pages (no statement stays open between pages). */
  loadDocuments(tableId: number): Iterable<StoredRow>;
  countDocuments(tableId: number): number;
  /** One row by canonical `_id` key. */
  getDocument(tableId: number, id: string): StoredRow | undefined;
  /** One row by rid (the primary key: one B-tree search instead of two). */
  getDocumentByRid(tableId: number, rid: number): StoredRow | undefined;
  createCollection(db: string, name: string, options: Document, indexes: Document[]): number;
  dropCollection(tableId: number): void;
  renameCollection(tableId: number, db: string, name: string): void;
  setIndexes(tableId: number, indexes: Document[]): void;
  /** Inserts a row and returns its rid. */
  insertDocument(tableId: number, id: string, doc: Buffer): number;
  updateDocument(tableId: number, id: string, doc: Buffer): void;
  deleteDocument(tableId: number, id: string): void;
  clearCollection(tableId: number): void;
  /** The index tables of one collection. */
  indexTables(tableId: number): IndexTableRow[];
  /** Creates an (empty) index table; in a transaction, rolled back with it. */
  createIndexTable(tableId: number, name: string, kind?: "keys" | "text"): number;
  dropIndexTable(ixId: number): void;
  setMultikey(ixId: number): void;
  insertIndexEntry(ixId: number, key: Buffer, rid: number): void;
  deleteIndexEntry(ixId: number, key: Buffer, rid: number): void;
  insertTextEntry(ixId: number, term: string, rid: number, score: number): void;
  deleteTextEntry(ixId: number, term: string, rid: number): void;
  /** The documents (`_id` keys) holding `term` in a text index, with their scores. */
  textPostings(ixId: number, term: string): { id: string; score: number }[];
  /** Whether a row other than `rid` holds `key` (unique indexes). */
  indexHasOther(ixId: number, key: Buffer, rid: number): boolean;
  /**
   * Up to `limit` entries with lower <= key <= upper, in index order (or reversed), strictly
   * after the entry `after` when given, each joined with its document (a view into the page:
   * see packed-pages.ts), and the key of the last one.
   */
  indexPage(
    ixId: number,
    lower: Buffer,
    upper: Buffer,
    after: { key: Buffer; rid: number } | undefined,
    reverse: boolean,
    limit: number,
  ): Page;
  /**
   * Runs fn in a savepoint of the open group transaction (BEGIN IMMEDIATE when none is open);
   * when fn throws only fn's changes roll back. Not reentrant. Nothing is durable before commit().
   */
  transaction<T>(fn: () => T): T;
  /** Whether a group transaction is open (writes run, not yet committed). */
  inGroup(): boolean;
  /** Commits the open group transaction (one fsync); a no-op when none is open. */
  commit(): void;
  /** Rolls the open group transaction back, every savepoint in it; a no-op when none is open. */
  rollback(): void;
  fileSize(): number;
  close(): void;
}

export class StoreLockedError extends Error {
  constructor(dbPath: string) {
    super(
      `dbPath ${dbPath} is already in use by another embedded store (its SQLite file is locked); ` +
        "stop the other process or choose another --dbpath",
    );
    this.name = "StoreLockedError";
  }
}

const tableName = (tableId: number): string => `docs_${tableId}`;
const indexTableName = (ixId: number): string => `ix_${ixId}`;

/** Triggers that keep the catalog's document count and data size in the writing transaction. */
function createStatisticsTriggers(db: Database.Database, tableId: number): void {
  const t = tableName(tableId);
  db.exec(`
    CREATE TRIGGER IF NOT EXISTS ${t}_ins AFTER INSERT ON ${t} BEGIN
      UPDATE catalog SET doc_count = doc_count + 1, data_bytes = data_bytes + length(NEW.doc)
      WHERE table_id = ${tableId};
    END;
    CREATE TRIGGER IF NOT EXISTS ${t}_del AFTER DELETE ON ${t} BEGIN
      UPDATE catalog SET doc_count = doc_count - 1, data_bytes = data_bytes - length(OLD.doc)
      WHERE table_id = ${tableId};
    END;
    CREATE TRIGGER IF NOT EXISTS ${t}_upd AFTER UPDATE OF doc ON ${t} BEGIN
      UPDATE catalog SET data_bytes = data_bytes + length(NEW.doc) - length(OLD.doc)
      WHERE table_id = ${tableId};
    END;
  `);
}

/**
 * Files written before the statistics columns existed: adds them, counts once, and installs
 * the triggers (one pass over each collection, at the first start after the upgrade).
 */
function migrateStatistics(db: Database.Database): void {
  const columns = (db.pragma("table_info(catalog)") as { name: string }[]).map((c) => c.name);
  if (!columns.includes("doc_count")) {
    db.exec("ALTER TABLE catalog ADD COLUMN doc_count INTEGER");
    db.exec("ALTER TABLE catalog ADD COLUMN data_bytes INTEGER");
  }
  const stale = db.prepare("SELECT table_id FROM catalog WHERE doc_count IS NULL").all() as {
    table_id: number;
  }[];
  for (const { table_id: tableId } of stale) {
    db.transaction(() => {
      const t = tableName(tableId);
      db.prepare(
        `UPDATE catalog SET doc_count = (SELECT count(*) FROM ${t}),
           data_bytes = (SELECT coalesce(sum(length(doc)), 0) FROM ${t}) WHERE table_id = ?`,
      ).run(tableId);
      createStatisticsTriggers(db, tableId);
    })();
  }
}

interface IndexStatements {
  readonly tableId: number;
  insert: Database.Statement<[Buffer, number]>;
  remove: Database.Statement<[Buffer, number]>;
  other: Database.Statement<[Buffer, number]>;
  first: PageQuery;
  next: PageQuery;
  firstReverse: PageQuery;
  nextReverse: PageQuery;
}

/** Rows per page of a natural-order scan: large enough to amortise the query, small in memory. */
const PAGE_ROWS = 1_000;
/** SQLite's page cache (KiB): part of the store's bounded memory, beside the document cache. */
const PAGE_CACHE_KIB = 64 * 1024;

function openDatabase(dbPath: string, file: string): Database.Database {
  const db = new Database(file, { timeout: 0 });
  try {
    // EXCLUSIVE locking holds the file lock for the connection's lifetime: the OS releases it
    // when the process dies (even on kill -9), and a second opener fails fast with SQLITE_BUSY.
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec("BEGIN EXCLUSIVE; COMMIT;");
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") throw new StoreLockedError(dbPath);
    throw error;
  }
  return db;
}

export function openStorage(dbPath: string): Storage {
  mkdirSync(dbPath, { recursive: true });
  const file = join(dbPath, STORE_FILE);
  const db = openDatabase(dbPath, file);
  // Index probes and scans walk B-trees: keep their upper levels and recent leaves in memory.
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS catalog (
      table_id INTEGER PRIMARY KEY AUTOINCREMENT,
      db TEXT NOT NULL,
      name TEXT NOT NULL,
      options BLOB NOT NULL,
      indexes BLOB NOT NULL,
      UNIQUE (db, name)
    );
    CREATE TABLE IF NOT EXISTS index_catalog (
      ix_id INTEGER PRIMARY KEY AUTOINCREMENT,
      table_id INTEGER NOT NULL,
      name TEXT NOT NULL,
      multikey INTEGER NOT NULL DEFAULT 0,
      UNIQUE (table_id, name)
    );
  `);
  migrateStatistics(db);

  const statements = new Map<number, TableStatements>();
  const tableStatements = (tableId: number): TableStatements => {
    let s = statements.get(tableId);
    if (!s) {
      const t = tableName(tableId);
      s = {
        insert: db.prepare(`INSERT INTO ${t} (id, doc) VALUES (?, ?)`),
        update: db.prepare(`UPDATE ${t} SET doc = ? WHERE id = ?`),
        remove: db.prepare(`DELETE FROM ${t} WHERE id = ?`),
        get: db.prepare(`SELECT id, rid, doc FROM ${t} WHERE id = ?`),
        byRid: db.prepare(`SELECT id, rid, doc FROM ${t} WHERE rid = ?`),
        page: preparePage(
          db,
          `SELECT id, rid, doc FROM ${t} WHERE rid > ? ORDER BY rid`,
          "rid",
          false,
        ),
      };
      statements.set(tableId, s);
    }
    return s;
  };
  const ixTableOf = db.prepare<[number]>("SELECT table_id FROM index_catalog WHERE ix_id = ?");
  const indexStatements = new Map<number, IndexStatements>();
  const ixStatements = (ixId: number): IndexStatements => {
    let s = indexStatements.get(ixId);
    if (!s) {
      const row = ixTableOf.get(ixId) as { table_id: number } | undefined;
      if (!row) throw new Error(`index table ${ixId} does not exist`);
      const ix = indexTableName(ixId);
      // CROSS JOIN keeps the index the outer loop: rows come out in index order, docs by rid.
      const select = `SELECT ix.key AS key, d.rid AS rid, d.id AS id, d.doc AS doc
        FROM ${ix} AS ix CROSS JOIN ${tableName(row.table_id)} AS d ON d.rid = ix.rid`;
      s = {
        tableId: row.table_id,
        insert: db.prepare(`INSERT INTO ${ix} (key, rid) VALUES (?, ?)`),
        remove: db.prepare(`DELETE FROM ${ix} WHERE key = ? AND rid = ?`),
        other: db.prepare(`SELECT 1 FROM ${ix} WHERE key = ? AND rid <> ? LIMIT 1`),
        first: preparePage(
          db,
          `${select} WHERE ix.key >= ? AND ix.key <= ? ORDER BY ix.key, ix.rid`,
          "key, rid",
          true,
        ),
        next: preparePage(
          db,
          `${select} WHERE (ix.key, ix.rid) > (?, ?) AND ix.key <= ? ORDER BY ix.key, ix.rid`,
          "key, rid",
          true,
        ),
        firstReverse: preparePage(
          db,
          `${select} WHERE ix.key <= ? AND ix.key >= ? ORDER BY ix.key DESC, ix.rid DESC`,
          "key DESC, rid DESC",
          true,
        ),
        nextReverse: preparePage(
          db,
          `${select} WHERE (ix.key, ix.rid) < (?, ?) AND ix.key >= ? ORDER BY ix.key DESC, ix.rid DESC`,
          "key DESC, rid DESC",
          true,
        ),
      };
      indexStatements.set(ixId, s);
    }
    return s;
  };
  const textStatements = new Map<
    number,
    {
      readonly tableId: number;
      insert: Database.Statement<[string, number, number]>;
      remove: Database.Statement<[string, number]>;
      postings: Database.Statement<[string]>;
    }
  >();
  const txStatements = (ixId: number) => {
    let s = textStatements.get(ixId);
    if (!s) {
      const row = ixTableOf.get(ixId) as { table_id: number } | undefined;
      if (!row) throw new Error(`index table ${ixId} does not exist`);
      const ix = indexTableName(ixId);
      s = {
        tableId: row.table_id,
        insert: db.prepare(`INSERT INTO ${ix} (term, rid, score) VALUES (?, ?, ?)`),
        remove: db.prepare(`DELETE FROM ${ix} WHERE term = ? AND rid = ?`),
        postings: db.prepare(
          `SELECT d.id AS id, t.score AS score FROM ${ix} AS t CROSS JOIN ${tableName(row.table_id)} AS d ON d.rid = t.rid WHERE t.term = ?`,
        ),
      };
      textStatements.set(ixId, s);
    }
    return s;
  };
  const forgetIndexStatements = (tableId: number) => {
    for (const [ixId, st] of textStatements)
      if (st.tableId === tableId) textStatements.delete(ixId);
    for (const [ixId, st] of indexStatements)
      if (st.tableId === tableId) indexStatements.delete(ixId);
  };
  const dropIndexTables = (tableId: number) => {
    const rows = db.prepare("SELECT ix_id FROM index_catalog WHERE table_id = ?").all(tableId) as {
      ix_id: number;
    }[];
    for (const { ix_id } of rows) db.exec(`DROP TABLE IF EXISTS ${indexTableName(ix_id)}`);
    db.prepare("DELETE FROM index_catalog WHERE table_id = ?").run(tableId);
    forgetIndexStatements(tableId);
  };

  const encodeIndexes = (indexes: Document[]): Buffer => Buffer.from(BSON.serialize({ indexes }));

  const insertCatalog = db.prepare<[string, string, Buffer, Buffer]>(
    "INSERT INTO catalog (db, name, options, indexes, doc_count, data_bytes) VALUES (?, ?, ?, ?, 0, 0)",
  );
  const deleteCatalog = db.prepare<[number]>("DELETE FROM catalog WHERE table_id = ?");
  const renameCatalog = db.prepare<[string, string, number]>(
    "UPDATE catalog SET db = ?, name = ? WHERE table_id = ?",
  );
  const updateIndexes = db.prepare<[Buffer, number]>(
    "UPDATE catalog SET indexes = ? WHERE table_id = ?",
  );
  let inTransaction = false;

  return {
    file,
    catalog() {
      const rows = db
        .prepare(
          "SELECT table_id, db, name, options, indexes, doc_count, data_bytes FROM catalog ORDER BY table_id",
        )
        .all() as {
        table_id: number;
        db: string;
        name: string;
        options: Buffer;
        indexes: Buffer;
        doc_count: number;
        data_bytes: number;
      }[];
      return rows.map((r) => ({
        tableId: r.table_id,
        db: r.db,
        name: r.name,
        options: decodeDocument(r.options),
        indexes: decodeDocument(r.indexes).indexes as Document[],
        documents: r.doc_count,
        dataBytes: r.data_bytes,
      }));
    },
    *loadDocuments(tableId) {
      const { page } = tableStatements(tableId);
      let after = 0;
      for (;;) {
        const { rows } = page.read([after], PAGE_ROWS);
        yield* rows;
        if (rows.length < PAGE_ROWS) return;
        after = rows[rows.length - 1]!.rid;
      }
    },
    countDocuments(tableId) {
      const row = db.prepare(`SELECT count(*) AS n FROM ${tableName(tableId)}`).get() as {
        n: number;
      };
      return row.n;
    },
    getDocumentByRid(tableId, rid) {
      return tableStatements(tableId).byRid.get(rid) as StoredRow | undefined;
    },
    getDocument(tableId, id) {
      return tableStatements(tableId).get.get(id) as StoredRow | undefined;
    },
    createCollection(dbName, name, options, indexes) {
      const info = insertCatalog.run(
        dbName,
        name,
        Buffer.from(BSON.serialize(options)),
        encodeIndexes(indexes),
      );
      const tableId = Number(info.lastInsertRowid);
      db.exec(
        `CREATE TABLE ${tableName(tableId)} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc BLOB NOT NULL)`,
      );
      createStatisticsTriggers(db, tableId);
      return tableId;
    },
    dropCollection(tableId) {
      statements.delete(tableId);
      dropIndexTables(tableId);
      db.exec(`DROP TABLE IF EXISTS ${tableName(tableId)}`);
      deleteCatalog.run(tableId);
    },
    renameCollection(tableId, dbName, name) {
      renameCatalog.run(dbName, name, tableId);
    },
    setIndexes(tableId, indexes) {
      updateIndexes.run(encodeIndexes(indexes), tableId);
    },
    insertDocument(tableId, id, doc) {
      return Number(tableStatements(tableId).insert.run(id, doc).lastInsertRowid);
    },
    updateDocument(tableId, id, doc) {
      tableStatements(tableId).update.run(doc, id);
    },
    deleteDocument(tableId, id) {
      tableStatements(tableId).remove.run(id);
    },
    clearCollection(tableId) {
      db.exec(`DELETE FROM ${tableName(tableId)}`);
      for (const row of this.indexTables(tableId)) {
        db.exec(`DELETE FROM ${indexTableName(row.ixId)}`);
      }
    },
    indexTables(tableId) {
      const rows = db
        .prepare(
          "SELECT ix_id, name, multikey FROM index_catalog WHERE table_id = ? ORDER BY ix_id",
        )
        .all(tableId) as { ix_id: number; name: string; multikey: number }[];
      return rows.map((r) => ({
        ixId: r.ix_id,
        tableId,
        name: r.name,
        multikey: r.multikey !== 0,
      }));
    },
    createIndexTable(tableId, name, kind = "keys") {
      const info = db
        .prepare("INSERT INTO index_catalog (table_id, name) VALUES (?, ?)")
        .run(tableId, name);
      const ixId = Number(info.lastInsertRowid);
      // A rolled-back creation may hand the same id out again, for another collection.
      indexStatements.delete(ixId);
      textStatements.delete(ixId);
      db.exec(
        kind === "text"
          ? `CREATE TABLE ${indexTableName(ixId)} (term TEXT NOT NULL, rid INTEGER NOT NULL, score REAL NOT NULL, PRIMARY KEY (term, rid)) WITHOUT ROWID`
          : `CREATE TABLE ${indexTableName(ixId)} (key BLOB NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (key, rid)) WITHOUT ROWID`,
      );
      return ixId;
    },
    dropIndexTable(ixId) {
      indexStatements.delete(ixId);
      textStatements.delete(ixId);
      db.exec(`DROP TABLE IF EXISTS ${indexTableName(ixId)}`);
      db.prepare("DELETE FROM index_catalog WHERE ix_id = ?").run(ixId);
    },
    setMultikey(ixId) {
      db.prepare("UPDATE index_catalog SET multikey = 1 WHERE ix_id = ?").run(ixId);
    },
    insertIndexEntry(ixId, key, rid) {
      ixStatements(ixId).insert.run(key, rid);
    },
    deleteIndexEntry(ixId, key, rid) {
      ixStatements(ixId).remove.run(key, rid);
    },
    insertTextEntry(ixId, term, rid, score) {
      txStatements(ixId).insert.run(term, rid, score);
    },
    deleteTextEntry(ixId, term, rid) {
      txStatements(ixId).remove.run(term, rid);
    },
    textPostings(ixId, term) {
      return txStatements(ixId).postings.all(term) as { id: string; score: number }[];
    },
    indexHasOther(ixId, key, rid) {
      return ixStatements(ixId).other.get(key, rid) !== undefined;
    },
    indexPage(ixId, lower, upper, after, reverse, limit) {
      const st = ixStatements(ixId);
      if (!reverse) {
        return after
          ? st.next.read([after.key, after.rid, upper], limit)
          : st.first.read([lower, upper], limit);
      }
      return after
        ? st.nextReverse.read([after.key, after.rid, lower], limit)
        : st.firstReverse.read([upper, lower], limit);
    },
    transaction(fn) {
      if (inTransaction) return fn();
      inTransaction = true;
      if (!db.inTransaction) db.exec("BEGIN IMMEDIATE");
      db.exec("SAVEPOINT command");
      try {
        const result = fn();
        db.exec("RELEASE command");
        return result;
      } catch (error) {
        // Some errors (SQLITE_FULL, I/O errors) make SQLite roll back the whole transaction
        // itself; then there is no savepoint left and the caller sees inGroup() === false.
        if (db.inTransaction) db.exec("ROLLBACK TO command; RELEASE command");
        throw error;
      } finally {
        inTransaction = false;
      }
    },
    inGroup() {
      return db.open && db.inTransaction;
    },
    commit() {
      if (db.open && db.inTransaction) db.exec("COMMIT");
    },
    rollback() {
      if (db.open && db.inTransaction) db.exec("ROLLBACK");
    },
    fileSize() {
      const pages = db.pragma("page_count", { simple: true }) as number;
      const size = db.pragma("page_size", { simple: true }) as number;
      return pages * size;
    },
    close() {
      if (db.open) db.close();
    },
  };
}
