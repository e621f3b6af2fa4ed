import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type App, createApp } from "./app.js";
import { BootstrapError, ensureBootstrapKey } from "./auth/bootstrap.js";
import { type Clock, systemClock } from "./clock.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createHttpServer } from "./http-server.js";
import { registerDomainMetrics } from "./observability/domain-metrics.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { createMetrics } from "./observability/metrics.js";
import { createRequestScopes, type RequestScopes } from "./observability/request-scope.js";
import { buildSchema } from "./schema/index.js";
import { resolveSecret } from "./secret.js";
import { createServices, type ServiceDeps, type Services } from "./services.js";
import type { EmbeddedMongo, EmbeddedStoreStats } from "./store/embedded/index.js";
import { registerEmbeddedStoreMetrics } from "./store/embedded/metrics.js";
import { createLoaders } from "./store/loaders.js";
import { connectStore } from "./store/mongo.js";

export interface RunningLoopgate {
  readonly config: Config;
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:4000 */
  readonly url: string;
  /** Graceful stop: stop accepting, drain in-flight requests, close the database. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly clock?: Clock;
  /** Defaults to JSON lines on stdout. */
  readonly logger?: Logger;
}

export interface Assembled {
  readonly services: Services;
  readonly app: App;
}

/**
 * Services and the app over a connected store: the wiring `startLoopgate` and the tests share, so
 * tests exercise exactly what production runs, minus the HTTP listener.
 */
export function assemble(
  deps: Omit<ServiceDeps, "logger"> & {
    logger: Logger;
    scopes: RequestScopes;
    /** The embedded store's figures for /metrics, when Loopgate started its own store. */
    embeddedStats?: (() => EmbeddedStoreStats) | undefined;
  },
): Assembled {
  const services = createServices(deps);
  const metrics = createMetrics();
  registerDomainMetrics(metrics.registry, services.events);
  if (deps.embeddedStats) registerEmbeddedStoreMetrics(metrics.registry, deps.embeddedStats);
  const app = createApp({
    config: deps.config,
    schema: buildSchema(),
    services,
    logger: deps.logger,
    metrics,
    scopes: deps.scopes,
    clock: deps.clock,
    createLoaders: () => createLoaders(deps.store.collections),
  });
  return { services, app };
}

/** The composition root: config → store → services → app → HTTP server. */
export async function startLoopgate(
  environment: Readonly<Record<string, string | undefined>>,
  options: StartOptions = {},
): Promise<RunningLoopgate> {
  const config = loadConfig(environment);
  const scopes = createRequestScopes();
  const logger = options.logger ?? createLogger({ level: config.logLevel, scopes });
  if (config.env !== "production" && !["127.0.0.1", "localhost", "::1"].includes(config.host)) {
    logger.warn(
      { host: config.host },
      "development mode on a non-loopback interface: GraphiQL is on and a local admin key is kept in DATA_DIR; set NODE_ENV=production for deployments",
    );
  }
  const clock = options.clock ?? systemClock;

  let embedded: EmbeddedMongo | undefined;
  let uri = config.mongodbUri;
  if (!uri) {
    const dbPath = resolve(config.dataDir, "db");
    // Loaded only when needed: deployments on MongoDB never load the SQLite native module.
    const { startEmbeddedMongo } = await import("./store/embedded/index.js");
    embedded = await startEmbeddedMongo({
      port: 0,
      dbPath,
      logger: logger.child({ component: "embedded-store" }),
      cacheMb: config.embeddedCacheMb,
      budgetDocuments: config.embeddedBudgetDocuments,
    });
    uri = embedded.uri;
    logger.info({ uri, dbPath }, "embedded store started (set MONGODB_URI to use MongoDB)");
  }

  const store = await connectStore({ uri, dbName: config.mongodbDb, logger });
  let assembled: Assembled;
  try {
    await store.ensureIndexes();
    assembled = assemble({
      config,
      store,
      clock,
      logger,
      scopes,
      secret: await resolveSecret(config.secret, config.dataDir),
      storeKind: embedded ? "embedded" : "mongodb",
      storeReady: embedded ? () => embedded.isReady() : undefined,
      embeddedStats: embedded ? () => embedded.stats() : undefined,
    });
    await ensureBootstrapKey({
      apiKeys: assembled.services.apiKeys,
      logger,
      production: config.env === "production",
      dataDir: config.dataDir,
      configuredKey: config.bootstrapAdminKey,
      terminal: process.stderr.isTTY ? process.stderr : undefined,
    });
  } catch (error) {
    await store.close();
    await embedded?.close();
    throw error;
  }
  const { services, app } = assembled;
  const http = createHttpServer(app.handleNodeRequest);
  const address = await http.listen(config.port, config.host);
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url: `${url}/graphql`, port: address.port }, "Loopgate is listening");

  let stopping: Promise<void> | undefined;
  return {
    config,
    url,
    stop() {
      stopping ??= (async () => {
        // Live subscriptions would otherwise hold the drain open until the timeout.
        services.events.close();
        const { forced } = await http.stop(config.shutdownTimeoutMs);
        if (forced) logger.warn("shutdown timeout reached; open connections were cut");
        await store.close();
        await embedded?.close();
        logger.info("Loopgate stopped");
      })();
      return stopping;
    },
  };
}

async function main(): Promise<void> {
  let running: RunningLoopgate;
  try {
    running = await startLoopgate(process.env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof BootstrapError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`Loopgate failed to start: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  }
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    process.stderr.write(`${signal} received, shutting down\n`);
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${(error as Error).stack ?? error}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void main();
}
