import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { EmbeddedStoreStats } from "./index.js";

/**
 * The store Loopgate starts for itself, run on a worker thread: SQLite commits (and their fsync),
 * BSON and the query engine never block the gateway's event loop, and a thread dies with its
 * process, so nothing is orphaned even on kill -9. The driver still talks to it over the wire,
 * through a Unix domain socket in the store's directory that only this OS user can open (no TCP
 * listener). Only types come from index.ts: the gateway's thread never loads SQLite.
 */

/** Options that cross to the worker (structured-cloneable). */
export interface StoreThreadOptions {
  readonly dbPath: string;
  /** Defaults to `<dbPath>/loopgate-store.sock`. */
  readonly socketPath?: string | undefined;
  readonly cacheMb?: number | undefined;
  readonly budgetDocuments?: number | undefined;
  /** See EmbeddedMongoOptions.groupCommit (default true). */
  readonly groupCommit?: boolean | undefined;
  /** pino level of the store's log lines (re-logged through the gateway's logger). */
  readonly logLevel?: string | undefined;
}

export type ToStore = { type: "stats"; id: number } | { type: "checkBudget" } | { type: "close" };

export type FromStore =
  | { type: "started"; uri: string; socketPath: string }
  | { type: "failed"; name: string; message: string }
  | { type: "ready" }
  | { type: "loadFailed"; message: string }
  | { type: "stats"; id: number; stats: EmbeddedStoreStats }
  | { type: "log"; line: string }
  | { type: "closed" };

export interface StoreThread {
  /** `mongodb://<URL-encoded socket path>`. */
  readonly uri: string;
  readonly socketPath: string;
  readonly dbPath: string;
  /** Settles once the store has loaded its indexes (see EmbeddedMongo.ready). */
  readonly ready: Promise<void>;
  isReady(): boolean;
  /**
   * Fresh figures from the store's thread. Never waits long: when the thread does not answer
   * within `STATS_TIMEOUT_MS` (busy with a long command) the last figures are returned.
   */
  stats(): Promise<EmbeddedStoreStats>;
  checkBudget(): void;
  /** Commits, closes client connections and SQLite, and ends the thread. Idempotent. */
  close(): Promise<void>;
}

export const STORE_SOCKET_FILE = "loopgate-store.sock";
const STATS_TIMEOUT_MS = 1_000;
const CLOSE_TIMEOUT_MS = 10_000;
const LEVELS: Record<number, "trace" | "debug" | "info" | "warn" | "error" | "fatal"> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** The worker entry: compiled JavaScript in production; the TypeScript source under tsx/vitest. */
function createWorker(options: StoreThreadOptions): Worker {
  const fromSource = import.meta.url.endsWith(".ts");
  const entry = new URL(fromSource ? "./thread-worker.ts" : "./thread-worker.js", import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: options });
  // Loaders given by --import in a worker's execArgv do not apply to its entry on Node 20, so
  // the source run registers tsx itself before loading the entry.
  const bootstrap = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: options });
}

export function startStoreThread(
  options: StoreThreadOptions & { readonly logger?: Logger | undefined },
): Promise<StoreThread> {
  const { logger, ...rest } = options;
  const settings: StoreThreadOptions = {
    ...rest,
    socketPath: rest.socketPath ?? join(rest.dbPath, STORE_SOCKET_FILE),
    logLevel: rest.logLevel ?? logger?.level ?? "info",
  };
  const worker = createWorker(settings);

  let ready = false;
  let closing = false;
  let lastStats: EmbeddedStoreStats | undefined;
  let nextStatsId = 1;
  const statsWaiters = new Map<number, (stats: EmbeddedStoreStats) => void>();
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  readyPromise.catch(() => undefined);
  let closed: (() => void) | undefined;
  const closedPromise = new Promise<void>((resolve) => {
    closed = resolve;
  });

  const relog = (line: string) => {
    if (!logger) return;
    try {
      const {
        level,
        msg,
        time: _time,
        pid: _pid,
        hostname: _hostname,
        ...fields
      } = JSON.parse(line) as Record<string, unknown>;
      logger[LEVELS[Number(level)] ?? "info"](fields, String(msg ?? ""));
    } catch {
      logger.info({ line }, "embedded store log line");
    }
  };

  return new Promise<StoreThread>((resolveStart, rejectStart) => {
    let started = false;
    worker.on("message", (message: FromStore) => {
      switch (message.type) {
        case "log":
          relog(message.line);
          return;
        case "started": {
          started = true;
          resolveStart(handle(message.uri, message.socketPath));
          return;
        }
        case "failed": {
          const error = new Error(message.message);
          error.name = message.name;
          rejectStart(error);
          return;
        }
        case "ready":
          ready = true;
          resolveReady();
          return;
        case "loadFailed":
          rejectReady(new Error(message.message));
          return;
        case "stats": {
          lastStats = message.stats;
          statsWaiters.get(message.id)?.(message.stats);
          statsWaiters.delete(message.id);
          return;
        }
        case "closed":
          closed?.();
          return;
      }
    });
    worker.on("error", (error) => {
      if (!started) rejectStart(error);
      else logger?.error({ err: error }, "the embedded store's thread failed");
    });
    worker.on("exit", (code) => {
      ready = false;
      closed?.();
      rejectReady(new Error("the embedded store's thread stopped"));
      if (!started) rejectStart(new Error(`the embedded store's thread exited (${code})`));
      else if (!closing)
        logger?.error({ code }, "the embedded store's thread stopped unexpectedly");
    });
  });

  function handle(uri: string, socketPath: string): StoreThread {
    const post = (message: ToStore) => worker.postMessage(message);
    let pending: Promise<EmbeddedStoreStats> | undefined;
    let stopping: Promise<void> | undefined;
    return {
      uri,
      socketPath,
      dbPath: settings.dbPath,
      ready: readyPromise,
      isReady: () => ready,
      stats() {
        // Concurrent callers (one per gauge of a scrape) share one round trip.
        pending ??= new Promise<EmbeddedStoreStats>((resolve) => {
          const id = nextStatsId++;
          const timer = setTimeout(() => {
            statsWaiters.delete(id);
            resolve(lastStats ?? emptyStats());
          }, STATS_TIMEOUT_MS);
          statsWaiters.set(id, (stats) => {
            clearTimeout(timer);
            resolve(stats);
          });
          post({ type: "stats", id });
        }).finally(() => {
          pending = undefined;
        });
        return pending;
      },
      checkBudget: () => post({ type: "checkBudget" }),
      close() {
        stopping ??= (async () => {
          closing = true;
          post({ type: "close" });
          const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
          await closedPromise;
          clearTimeout(timer);
          await worker.terminate();
        })();
        return stopping;
      },
    };
  }
}

function emptyStats(): EmbeddedStoreStats {
  return {
    ready: false,
    collections: [],
    fileBytes: 0,
    cache: {
      hits: 0,
      misses: 0,
      bytes: 0,
      entries: 0,
      budgetBytes: 0,
    } as EmbeddedStoreStats["cache"],
    commits: { groups: 0, writes: 0 },
  };
}
