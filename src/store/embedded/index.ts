/**
 * The embedded, MongoDB-wire-compatible store. Layers, outside in:
 *   server.ts / wire.ts / crc32c.ts     TCP, framing, OP_MSG and the OP_QUERY handshake
 *   commands/*                          one file per command family, mongod's replies and codes
 *   query-exec.ts / planner.ts          candidates from indexes, then mingo decides
 *   mingo-engine.ts (+ query-operators, agg-operators, projection)   mingo, with BSON semantics
 *   write-docs.ts                       inserts, updates, upserts (types kept across mingo)
 *   catalog.ts / collection.ts          collections in memory, indexes, one transaction per write
 *   sorted-index.ts / index-keys.ts / text-search.ts / ttl.ts   index structures and TTL
 *   storage.ts                          SQLite (WAL, synchronous=FULL), the source of truth
 *   bson-*.ts                           typed/view forms, BSON order, keys, numeric types
 */
import type { Logger } from "pino";
import { Catalog } from "./catalog.js";
import type { ServerState } from "./commands/index.js";
import { createCursorRegistry } from "./cursors.js";
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
  /** Directory holding the SQLite files. Created when missing. */
  dbPath: string;
  logger?: Logger;
  /** Injected clock for TTL expiry and cursor timeouts. */
  now?: () => Date;
  /** Initial TTL monitor interval (mongod's ttlMonitorSleepSecs, default 60). */
  ttlMonitorSleepSecs?: number;
}

export interface EmbeddedMongo {
  readonly uri: string;
  readonly host: string;
  readonly port: number;
  readonly dbPath: string;
  /** Stops accepting, closes client sockets, closes SQLite. Idempotent. */
  close(): Promise<void>;
}

const CURSOR_REAP_INTERVAL_MS = 60_000;

/**
 * Starts a MongoDB-wire-compatible server backed by SQLite in `dbPath`. Drivers connect with a
 * plain `mongodb://host:port` URI and see a standalone mongod 7.0.
 */
export async function startEmbeddedMongo(options: EmbeddedMongoOptions): Promise<EmbeddedMongo> {
  const host = options.host ?? "127.0.0.1";
  const now = options.now ?? (() => new Date());
  const logger = options.logger;
  const storage = openStorage(options.dbPath);
  const engine = createQueryEngine();
  let catalog: Catalog;
  try {
    catalog = new Catalog(storage, engine);
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
  const wire = createWireServer({ logger, state: () => state! });
  try {
    await new Promise<void>((resolve, reject) => {
      wire.server.once("error", reject);
      wire.server.listen(options.port ?? 0, host, () => {
        wire.server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    storage.close();
    throw error;
  }
  const address = wire.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? 0);
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
  const ttl = startTtlMonitor({ catalog, parameters, now, logger });
  const reaper = setInterval(() => cursors.reap(), CURSOR_REAP_INTERVAL_MS);
  reaper.unref();

  const uri = `mongodb://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger?.info({ uri, dbPath: options.dbPath }, "embedded MongoDB store listening");

  let closed: Promise<void> | undefined;
  return {
    uri,
    host,
    port,
    dbPath: options.dbPath,
    close() {
      closed ??= (async () => {
        ttl.stop();
        clearInterval(reaper);
        await wire.close();
        cursors.clear();
        storage.close();
        logger?.info({ uri }, "embedded MongoDB store stopped");
      })();
      return closed;
    },
  };
}
