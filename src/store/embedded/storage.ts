import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BSON, type Document } from "bson";
import { decodeDocument } from "./bson-values.js";

/**
 * Durable state in one SQLite file: a catalog row per collection (options and index specs as
 * BSON) and a table per collection holding BSON blobs keyed by the canonical `_id` key.
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
  page: Database.Statement<[number, number]>;
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

/** Rows per page of a natural-order scan: large enough to amortise the query, small in memory. */
const PAGE_ROWS = 1_000;

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
  db.exec(`
    CREATE TABLE IF NOT EXISTS catalog (
      table_id INTEGER PRIMARY KEY AUTOINCREMENT,
      db TEXT NOT NULL,
      name TEXT NOT NULL,
      options BLOB NOT NULL,
      indexes BLOB NOT NULL,
      UNIQUE (db, name)
    );
  `);

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
        page: db.prepare(`SELECT id, rid, doc FROM ${t} WHERE rid > ? ORDER BY rid LIMIT ?`),
      };
      statements.set(tableId, s);
    }
    return s;
  };
  const encodeIndexes = (indexes: Document[]): Buffer => Buffer.from(BSON.serialize({ indexes }));

  const insertCatalog = db.prepare<[string, string, Buffer, Buffer]>(
    "INSERT INTO catalog (db, name, options, indexes) VALUES (?, ?, ?, ?)",
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
        .prepare("SELECT table_id, db, name, options, indexes FROM catalog ORDER BY table_id")
        .all() as {
        table_id: number;
        db: string;
        name: string;
        options: Buffer;
        indexes: Buffer;
      }[];
      return rows.map((r) => ({
        tableId: r.table_id,
        db: r.db,
        name: r.name,
        options: decodeDocument(r.options),
        indexes: decodeDocument(r.indexes).indexes as Document[],
      }));
    },
    *loadDocuments(tableId) {
      const { page } = tableStatements(tableId);
      let after = 0;
      for (;;) {
        const rows = page.all(after, PAGE_ROWS) as StoredRow[];
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
      return tableId;
    },
    dropCollection(tableId) {
      statements.delete(tableId);
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
