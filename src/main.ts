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
import type { EmbeddedMongo } from "./store/embedded/index.js";
import { createLoaders } from "./store/loaders.js";
import { connectStore } from "./store/mongo.js";

/** A start refused for a reason the operator can act on; reported in one line. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

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
  deps: Omit<ServiceDeps, "logger"> & { logger: Logger; scopes: RequestScopes },
): Assembled {
  const services = createServices(deps);
  const metrics = createMetrics();
  registerDomainMetrics(metrics.registry, services.events);
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
    const { startEmbeddedMongo, StoreLockedError } = await import("./store/embedded/index.js");
    embedded = await startEmbeddedMongo({
      port: 0,
      dbPath,
      logger: logger.child({ component: "embedded-store" }),
    }).catch((error: unknown) => {
      if (!(error instanceof StoreLockedError)) throw error;
      throw new StartError(
        `the data directory ${resolve(config.dataDir)} is in use by another process (its store is locked); stop that process or set DATA_DIR`,
      );
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
  let address: Awaited<ReturnType<typeof http.listen>>;
  try {
    address = await http.listen(config.port, config.host);
  } catch (error) {
    // Nothing is left holding the store (its lock, its port) when the HTTP port is taken.
    await store.close();
    await embedded?.close();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new StartError(
        `port ${config.port} on ${config.host} is already in use by another process (set PORT)`,
      );
    }
    throw error;
  }
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url: `${url}/graphql`, port: address.port }, "Loopgate is listening");

  let stopping: Promise<void> | undefined;
  return {
    config,
    url,
    stop() {
      stopping ??= (async () => {
        // Live subscriptions end once the other requests are answered: they would otherwise hold
        // the drain open until the timeout, and subscribers still get the drained writes' events.
        const { forced } = await http.stop(config.shutdownTimeoutMs, () => services.events.close());
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
    process.stderr.write(
      `Loopgate failed to start: ${error instanceof StartError ? error.message : ((error as Error).stack ?? error)}\n`,
    );
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
