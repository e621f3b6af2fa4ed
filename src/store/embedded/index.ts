/**
 * The embedded, MongoDB-wire-compatible store. Layers, outside in:
 *   server.ts / wire.ts / crc32c.ts     TCP, framing, OP_MSG and the OP_QUERY handshake
 *   commands/*                          one file per command family, mongod's replies and codes
 *   query-exec.ts / planner.ts          candidates from indexes, then mingo decides
 *   mingo-engine.ts (+ query-operators, agg-operators, projection)   mingo, with BSON semantics
 *   write-docs.ts                       inserts, updates, upserts (types kept across mingo)
 *   catalog.ts / collection.ts          collections, index maintenance, one savepoint per write
 *   group-commit.ts                     writes that arrive together: one transaction, one fsync
 *   doc-cache.ts                        bounded LRU of decoded documents (documents live in SQLite)
 *   index-table.ts / key-codec.ts / index-keys.ts   index tables in SQLite, order-preserving keys
 *   text-search.ts / ttl.ts             text indexes (in memory) and TTL
 *   storage.ts                          SQLite (WAL, synchronous=FULL), the source of truth
 *   bson-*.ts                           typed/view forms, BSON order, keys, numeric types
 */
import { chmodSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { Catalog } from "./catalog.js";
import type { StoredDoc } from "./collection.js";
import type { ServerState } from "./commands/index.js";
import { createCursorRegistry } from "./cursors.js";
import { type CacheStats, DocumentCache } from "./doc-cache.js";
import { createWriteGroup } from "./group-commit.js";
import { createQueryEngine } from "./mingo-engine.js";
import { createServerParameters } from "./parameters.js";
import { createWireServer } from "./server.js";
import { openStorage } from "./storage.js";
import { startTtlMonitor } from "./ttl.js";

export { StoreLockedError } from "./storage.js";

export interface EmbeddedMongoOptions {
  /** Port on 127.0.0.1; 0 picks a free port. */
  port?: number;
  /** Interface to bind; loopback only by default. */
  host?: string;
  /**
   * Listen on this Unix domain socket instead of TCP (no TCP listener at all): the socket gets
   * mode 0600 and its directory 0700, so only this OS user can connect. Drivers connect with
   * `mongodb://<URL-encoded path>`. Paths over the OS's sun_path limit are refused.
   */
  socketPath?: string;
  /** Directory holding the SQLite files. Created when missing. */
  dbPath: string;
  logger?: Logger;
  /** Injected clock for TTL expiry and cursor timeouts. */
  now?: () => Date;
  /** Initial TTL monitor interval (mongod's ttlMonitorSleepSecs, default 60). */
  ttlMonitorSleepSecs?: number;
  /** Budget of the decoded-document cache in MiB (estimated heap). Default 64. */
  cacheMb?: number;
  /** How long index building at start runs before yielding to the event loop (ms, default 50). */
  loadSliceMs?: number;
  /**
   * Documents (all collections) past which the log warns, once, that the store nears its
   * measured ceiling and MongoDB is the better home. Checked every minute. Off when unset.
   */
  budgetDocuments?: number;
  /**
   * Group commit (default true): writes that arrive together share one transaction and fsync.
   * false commits every write command on its own: the benchmark's baseline.
   */
  groupCommit?: boolean;
}

export interface EmbeddedStoreStats {
  readonly ready: boolean;
  readonly collections: readonly {
    readonly db: string;
    readonly name: string;
    readonly documents: number;
    readonly dataBytes: number;
  }[];
  /** Size of the SQLite file (pages in use × page size). */
  readonly fileBytes: number;
  readonly cache: CacheStats;
  /** Group commit since start: transactions committed and the write commands they carried. */
  readonly commits: { readonly groups: number; readonly writes: number };
}

export interface EmbeddedMongo {
  readonly uri: string;
  /** The Unix domain socket it listens on, when started with `socketPath`. */
  readonly socketPath: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly dbPath: string;
  /**
   * Settles once every collection's indexes are built from SQLite. Until then the store
   * accepts connections and handshakes but holds every other command; progress is logged.
   */
  readonly ready: Promise<void>;
  isReady(): boolean;
  /** Document counts, data size and cache figures, for metrics. */
  stats(): EmbeddedStoreStats;
  /** Checks the document budget now (it is also checked every minute); warns at most once. */
  checkBudget(): void;
  /** Stops accepting, closes client sockets, closes SQLite. Idempotent. */
  close(): Promise<void>;
}

const CURSOR_REAP_INTERVAL_MS = 60_000;
const DEFAULT_CACHE_MB = 64;
const PROGRESS_LOG_INTERVAL_MS = 2_000;
const BUDGET_CHECK_INTERVAL_MS = 60_000;

/**
 * Starts a MongoDB-wire-compatible server backed by SQLite in `dbPath`. Drivers connect with a
 * plain `mongodb://host:port` URI and see a standalone mongod 7.0.
 */
export async function startEmbeddedMongo(options: EmbeddedMongoOptions): Promise<EmbeddedMongo> {
  const socketPath = options.socketPath;
  const host = socketPath ?? options.host ?? "127.0.0.1";
  const now = options.now ?? (() => new Date());
  const logger = options.logger;
  if (socketPath) preparePrivateDirectory(socketPath);
  const storage = openStorage(options.dbPath);
  const engine = createQueryEngine();
  const cache = new DocumentCache<StoredDoc>((options.cacheMb ?? DEFAULT_CACHE_MB) * 1024 * 1024);
  const commits = { groups: 0, writes: 0 };
  const writes = createWriteGroup({
    storage,
    logger,
    grouped: options.groupCommit ?? true,
    onCommit(count) {
      commits.groups++;
      commits.writes += count;
    },
  });
  let catalog: Catalog;
  try {
    catalog = new Catalog(storage, engine, cache, writes);
  } catch (error) {
    storage.close();
    throw error;
  }
  const parameters = createServerParameters(
    options.ttlMonitorSleepSecs ? { ttlMonitorSleepSecs: options.ttlMonitorSleepSecs } : {},
  );
  const cursors = createCursorRegistry(now, () => Number(parameters.get("cursorTimeoutMillis")));
  const startedAt = now();

  let state: ServerState | undefined;
  let loading: Promise<void> | undefined;
  let closing = false;
  const wire = createWireServer({
    logger,
    state: () => state!,
    loading: () => loading,
    writes,
  });
  try {
    // A socket file left by a process killed with -9 is stale: we hold the store's lock now.
    if (socketPath) rmSync(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      wire.server.once("error", reject);
      const listening = () => {
        wire.server.off("error", reject);
        resolve();
      };
      if (socketPath) wire.server.listen({ path: socketPath }, listening);
      else wire.server.listen(options.port ?? 0, host, listening);
    });
    // The 0700 directory already keeps others out; the socket's own mode says so too.
    if (socketPath) chmodSync(socketPath, 0o600);
  } catch (error) {
    await wire.close();
    storage.close();
    throw error;
  }
  const address = wire.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  state = {
    catalog,
    engine,
    cursors,
    parameters,
    storage,
    now,
    logger,
    startedAt,
    host,
    port,
    dbPath: options.dbPath,
    connectionCount: () => wire.connections.size,
    totalConnections: () => wire.totalConnections(),
  };
  const reaper = setInterval(() => cursors.reap(), CURSOR_REAP_INTERVAL_MS);
  reaper.unref();

  const uri = socketPath
    ? `mongodb://${encodeURIComponent(socketPath)}`
    : `mongodb://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger?.info({ uri, dbPath: options.dbPath }, "embedded MongoDB store listening");

  // Indexes are built from SQLite in the background; commands wait for it (see server.ts).
  const loadStarted = performance.now();
  let lastLog = loadStarted;
  let ttl: { stop(): void } | undefined;
  loading = catalog.loadAll(
    (progress) => {
      const t = performance.now();
      if (t - lastLog >= PROGRESS_LOG_INTERVAL_MS) {
        lastLog = t;
        logger?.info(progress, "embedded store loading indexes (not ready yet)");
      }
    },
    () => closing,
  );
  const ready = loading.then(
    () => {
      loading = undefined;
      if (closing) return;
      ttl = startTtlMonitor({ catalog, parameters, now, logger });
      budgetTimer = watchBudget();
      logger?.info(
        { ms: Math.round(performance.now() - loadStarted) },
        "embedded MongoDB store ready",
      );
    },
    (error: unknown) => {
      logger?.error({ err: error }, "embedded store failed to load; it stays unready");
      throw error;
    },
  );
  // Callers that never await `ready` must not see an unhandled rejection.
  ready.catch(() => undefined);

  let budgetTimer: NodeJS.Timeout | undefined;
  let budgetWarned = false;
  const checkBudget = () => {
    const budget = options.budgetDocuments;
    if (budget === undefined || budgetWarned) return;
    const documents = stats().collections.reduce((n, c) => n + c.documents, 0);
    if (documents > budget) {
      budgetWarned = true;
      logger?.warn(
        { documents, budgetDocuments: budget },
        "the embedded store holds more documents than its configured budget: plan the move to MongoDB (npm run migrate -- --to <uri>)",
      );
    }
  };
  const watchBudget = () => {
    checkBudget();
    const timer = setInterval(checkBudget, BUDGET_CHECK_INTERVAL_MS);
    timer.unref();
    return timer;
  };

  const stats = (): EmbeddedStoreStats => {
    const collections = [];
    for (const db of catalog.databaseNames()) {
      for (const name of catalog.collectionNames(db)) {
        const c = catalog.peek(db, name);
        collections.push({
          db,
          name,
          documents: c?.docs.size ?? 0,
          dataBytes: c?.dataSize ?? 0,
        });
      }
    }
    return {
      ready: loading === undefined,
      collections,
      fileBytes: storage.fileSize(),
      cache: cache.stats(),
      commits: { ...commits },
    };
  };

  let closed: Promise<void> | undefined;
  return {
    uri,
    socketPath,
    host,
    port,
    dbPath: options.dbPath,
    ready,
    isReady: () => loading === undefined,
    stats,
    checkBudget,
    close() {
      closed ??= (async () => {
        closing = true;
        await ready.catch(() => undefined);
        ttl?.stop();
        clearInterval(budgetTimer);
        clearInterval(reaper);
        // Writes of the last turn (and their held replies) are committed before anything closes.
        writes.commit();
        await wire.close();
        cursors.clear();
        storage.close();
        logger?.info({ uri }, "embedded MongoDB store stopped");
      })();
      return closed;
    },
  };
}

/** sun_path holds 108 bytes on Linux, 104 on macOS and the BSDs, the terminating NUL included. */
const SOCKET_PATH_MAX_BYTES = process.platform === "linux" ? 107 : 103;

/**
 * Checks the socket's path and makes its directory private (created 0700, or tightened to 0700
 * when it is ours and more open), so no other local user can reach the socket.
 */
function preparePrivateDirectory(socketPath: string): void {
  if (process.platform === "win32") {
    throw new Error(
      "the embedded store's private socket needs Unix domain sockets (Linux, macOS, WSL); on Windows set MONGODB_URI",
    );
  }
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > SOCKET_PATH_MAX_BYTES) {
    throw new Error(
      `the embedded store's socket path ${socketPath} is ${bytes} bytes, over this OS's limit of ${SOCKET_PATH_MAX_BYTES} for Unix sockets; set DATA_DIR to a shorter path`,
    );
  }
  const dir = dirname(socketPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) {
    throw new Error(
      `the embedded store's directory ${dir} belongs to another user (uid ${stat.uid}); choose a DATA_DIR of your own`,
    );
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}
