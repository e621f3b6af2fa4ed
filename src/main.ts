import type { IncomingMessage, ServerResponse } from "node:http";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type App, createApp } from "./app.js";
import { BootstrapError, ensureBootstrapKey } from "./auth/bootstrap.js";
import { type Clock, systemClock } from "./clock.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createHttpServer } from "./http-server.js";
import { withJobTypes } from "./job-catalog.js";
import { createPeriodic, type Periodic } from "./jobs/periodic.js";
import type { JobCatalog } from "./jobs/types.js";
import { createJobWorker, type JobWorker } from "./jobs/worker.js";
import { registerDomainMetrics } from "./observability/domain-metrics.js";
import { registerDriftMetrics } from "./observability/drift-metrics.js";
import {
  type IntegrationMetrics,
  registerIntegrationMetrics,
} from "./observability/integration-metrics.js";
import { registerIntegrationSyncMetrics } from "./observability/integration-sync-metrics.js";
import { registerJobMetrics } from "./observability/job-metrics.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { createMetrics } from "./observability/metrics.js";
import { createModelLabeler } from "./observability/model-labels.js";
import { registerMongoMetrics } from "./observability/mongo-metrics.js";
import { registerPipelineMetrics } from "./observability/pipeline-metrics.js";
import { createRequestScopes, type RequestScopes } from "./observability/request-scope.js";
import { startTelemetry } from "./observability/telemetry.js";
import { traceMongoCommands } from "./observability/tracing.js";
import { createWindowMetrics, type WindowMetrics } from "./observability/window-metrics.js";
import { AGREEMENT_JOB } from "./pipeline/agreement-reports.js";
import { createAutomationTicks } from "./pipeline/ticks.js";
import { buildSchema } from "./resolvers/index.js";
import { resolveSecret } from "./secret.js";
import { createServices, type ServiceDeps, type Services } from "./services.js";
import type { EmbeddedStoreStats } from "./store/embedded/index.js";
import { registerEmbeddedStoreMetrics } from "./store/embedded/metrics.js";
import type { StoreThread } from "./store/embedded/thread.js";
import { createLoaders } from "./store/loaders.js";
import { connectStore, type Store } from "./store/mongo.js";

/** A start that failed for a reason the operator can fix; its message is one line. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

function listenProblem(error: unknown, host: string, port: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") {
    return `port ${port} on ${host} is already in use; stop the other process or set PORT`;
  }
  if (code === "EACCES")
    return `not allowed to listen on ${host}:${port}; choose a port above 1023`;
  if (code === "EADDRNOTAVAIL") return `${host} is not an address of this machine; check HOST`;
  return `cannot listen on ${host}:${port}: ${(error as Error).message}`;
}

export interface RunningLoopgate {
  readonly config: Config;
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:4000 */
  readonly url: string;
  /**
   * Graceful stop: stop accepting and claiming, drain in-flight requests and running jobs, close
   * the database.
   */
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
  /** Not started yet; undefined when LOOPGATE_ROLE=api. */
  readonly worker: JobWorker | undefined;
  /**
   * The outbox sweep beside the worker (undefined when LOOPGATE_ROLE=api): at start it takes every
   * feedback marked before this process started (a crash's leftovers), then sweeps on a cadence.
   */
  readonly sweeper: Periodic | undefined;
  /** Automated feedback and drift refresh cadences (empty when LOOPGATE_ROLE=api); not started. */
  readonly ticks: readonly Periodic[];
  /** Beside the worker: queues the pipeline's job whenever feedback waits (PIPELINE_TICK_MS). */
  readonly pipelineTick: Periodic | undefined;
  /** Queues the agreement recomputation every DATASETS_AGREEMENT_INTERVAL_MINUTES (beside the worker). */
  readonly agreementSchedule: Periodic | undefined;
  /** The window gauges; `refresher` (not started yet) recomputes them on METRICS_REFRESH_SECONDS. */
  readonly windowMetrics: WindowMetrics;
  readonly refresher: Periodic;
  /** For the integrations' syncs and their HTTP clients (`metrics.http` is an HttpMetricsHook). */
  readonly integrationMetrics: IntegrationMetrics;
  /** Queues each enabled integration's push and pull on a cadence (undefined: none on, or api role). */
  readonly integrationTick: Periodic | undefined;
}

/**
 * Services and the app over a connected store: the wiring `startLoopgate` and the tests share, so
 * tests exercise exactly what production runs, minus the HTTP listener.
 */
export function assemble(
  deps: Omit<ServiceDeps, "logger" | "jobTypes"> & {
    logger: Logger;
    scopes: RequestScopes;
    /** Job types and handlers beside this build's own (src/job-catalog.ts); tests add theirs. */
    jobs?: JobCatalog<Services>;
    /** The embedded store's figures for /metrics, when Loopgate started its own store. */
    embeddedStats?: (() => EmbeddedStoreStats | Promise<EmbeddedStoreStats>) | undefined;
  },
): Assembled {
  const jobs = withJobTypes(deps.jobs);
  const services = createServices({ ...deps, jobTypes: jobs.types });
  const metrics = createMetrics();
  const modelLabel = createModelLabeler(deps.config.metrics.models);
  registerDomainMetrics(metrics.registry, services.events, modelLabel);
  registerDriftMetrics(metrics.registry, {
    dimensions: services.audit.dimensions,
    threshold: deps.config.audit.threshold,
    latest: () => services.audit.latest(),
  });
  registerPipelineMetrics(metrics.registry, services.pipeline);
  registerMongoMetrics(metrics.registry, deps.store.client);
  traceMongoCommands(deps.store.client);
  const integrationMetrics = registerIntegrationMetrics(metrics.registry, [
    "langsmith",
    "argilla",
    "labelstudio",
  ]);
  const windowMetrics = createWindowMetrics({
    registry: metrics.registry,
    collections: deps.store.collections,
    clock: deps.clock,
    modelLabel,
    rebuildIntervalMs: deps.config.metrics.rebuildIntervalMs,
  });
  // Every role refreshes: each replica exports the same gauges and the rules take the max.
  const refresher = createPeriodic({
    intervalMs: deps.config.metrics.refreshIntervalMs,
    run: () => windowMetrics.refresh(),
    failed: (error) =>
      deps.logger.warn({ err: error }, "window metrics refresh failed; keeping the last values"),
  });
  if (deps.embeddedStats) registerEmbeddedStoreMetrics(metrics.registry, deps.embeddedStats);
  const jobObserver = registerJobMetrics(metrics.registry, {
    types: [...services.jobs.types.keys()],
    stats: () => services.jobs.stats(),
    now: () => deps.clock.now(),
  });
  services.integrations.observe(
    registerIntegrationSyncMetrics(
      metrics.registry,
      {
        integrations: [...services.integrations.enabled],
        directions: ["push", "pull"],
        lastSuccess: async () =>
          (await services.integrations.status()).flatMap((integration) =>
            integration.directions.map((direction) => ({
              integration: integration.name,
              direction: direction.direction,
              at: integration.enabled ? (direction.state?.lastSuccessAt ?? null) : null,
            })),
          ),
        now: () => deps.clock.now(),
      },
      integrationMetrics,
    ),
  );
  const worker =
    deps.config.role === "api"
      ? undefined
      : createJobWorker({
          queue: services.jobs,
          handlers: jobs.handlers(services),
          clock: deps.clock,
          logger: deps.logger,
          concurrency: deps.config.jobs.concurrency,
          leaseMs: deps.config.jobs.leaseMs,
          pollMs: deps.config.jobs.pollMs,
          observer: jobObserver,
        });
  const startedAt = deps.clock.now();
  const sweeper = worker
    ? createPeriodic({
        intervalMs: deps.config.jobs.sweepIntervalMs,
        run: async (first) => {
          const found = await services.outbox.sweep(first ? startedAt : undefined);
          if (found > 0) {
            deps.logger.info({ feedback: found }, "outbox: queued unfinished post-write steps");
          }
        },
        failed: (error) => deps.logger.warn({ err: error }, "outbox sweep failed; retrying later"),
      })
    : undefined;
  const ticks = worker
    ? createAutomationTicks({
        judges: deps.config.judges,
        audit: deps.config.audit,
        enqueue: (type, payload, options) => services.jobs.enqueue(type, payload, options),
        failed: (error, type) =>
          deps.logger.warn(
            { err: error, type },
            "could not enqueue a periodic job; retrying later",
          ),
      })
    : [];
  const pipelineTick = worker
    ? createPeriodic({
        intervalMs: deps.config.pipeline.tickMs,
        run: () => services.pipeline.tick(),
        failed: (error) => deps.logger.warn({ err: error }, "pipeline tick failed; retrying later"),
      })
    : undefined;
  const agreementSchedule =
    worker && deps.config.datasets.agreementIntervalMs > 0
      ? createPeriodic({
          intervalMs: deps.config.datasets.agreementIntervalMs,
          // One queued recomputation at a time, whichever process enqueues it; none at start, so
          // a restart (or a fleet of them) adds no work.
          run: (first) =>
            first
              ? Promise.resolve()
              : services.jobs.enqueue(AGREEMENT_JOB, {}, { key: AGREEMENT_JOB }),
          failed: (error) =>
            deps.logger.warn({ err: error }, "could not queue the agreement recomputation"),
        })
      : undefined;
  const integrationTick =
    worker && services.integrations.enabled.length > 0
      ? createPeriodic({
          intervalMs: deps.config.integrations.syncIntervalMs,
          run: () => services.integrations.enqueueAll(),
          failed: (error) =>
            deps.logger.warn({ err: error }, "queueing integration syncs failed; retrying later"),
        })
      : undefined;
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
  return {
    services,
    app,
    worker,
    sweeper,
    ticks,
    pipelineTick,
    agreementSchedule,
    windowMetrics,
    refresher,
    integrationMetrics,
    integrationTick,
  };
}

/** The composition root: config → store → services → app → HTTP server → job worker (per role). */
export async function startLoopgate(
  environment: Readonly<Record<string, string | undefined>>,
  options: StartOptions = {},
): Promise<RunningLoopgate> {
  const config = loadConfig(environment);
  // Before anything else, so every span of this process reaches the configured exporter.
  const telemetry = startTelemetry(config.otel);
  const scopes = createRequestScopes();
  const logger = options.logger ?? createLogger({ level: config.logLevel, scopes });
  if (config.env !== "production" && !["127.0.0.1", "localhost", "::1"].includes(config.host)) {
    logger.warn(
      { host: config.host },
      "development mode on a non-loopback interface: GraphiQL is on and a local admin key is kept in DATA_DIR; set NODE_ENV=production for deployments",
    );
  }
  const clock = options.clock ?? systemClock;

  // The port is bound first: a start that cannot listen fails before it touches the data
  // directory. Until the app is assembled, requests get 503.
  let handle: (request: IncomingMessage, response: ServerResponse) => void = (
    _request,
    response,
  ) => {
    response.writeHead(503, { "retry-after": "1" }).end();
  };
  const http = createHttpServer((request, response) => handle(request, response), {
    limits: config.edge,
    headersTimeoutMs: config.edge.headersTimeoutMs,
    requestTimeoutMs: config.edge.requestTimeoutMs,
    logger,
  });
  const address = await http.listen(config.port, config.host).catch((error: unknown) => {
    throw new StartError(listenProblem(error, config.host, config.port));
  });

  let embedded: StoreThread | undefined;
  let store: Store | undefined;
  let assembled: Assembled;
  try {
    let uri = config.mongodbUri;
    if (!uri) {
      const dbPath = resolve(config.dataDir, "db");
      // Loaded only when needed. The store runs on its own thread, reachable only through a
      // Unix socket in dbPath that only this OS user can open (src/store/embedded/thread.ts).
      const { startStoreThread } = await import("./store/embedded/thread.js");
      embedded = await startStoreThread({
        dbPath,
        logger: logger.child({ component: "embedded-store" }),
        cacheMb: config.embeddedCacheMb,
        budgetDocuments: config.embeddedBudgetDocuments,
      }).catch((error: unknown) => {
        if ((error as Error).name !== "StoreLockedError") throw error;
        throw new StartError(
          `DATA_DIR ${config.dataDir} is in use by another Loopgate or store process; stop it or set another DATA_DIR`,
        );
      });
      uri = embedded.uri;
      logger.info(
        { socket: embedded.socketPath, dbPath },
        "embedded store started (set MONGODB_URI to use MongoDB)",
      );
    }
    store = await connectStore({
      uri,
      dbName: config.mongodbDb,
      logger,
      timeouts: {
        operationMs: config.edge.mongodbTimeoutMs,
        serverSelectionMs: config.edge.mongodbServerSelectionTimeoutMs,
        pingMs: config.edge.readinessTimeoutMs,
      },
    });
    await store.ensureIndexes();
    const ownStore = embedded;
    assembled = assemble({
      config,
      store,
      clock,
      logger,
      scopes,
      secret: await resolveSecret(config.secret, config.dataDir),
      storeKind: embedded ? "embedded" : "mongodb",
      storeReady: ownStore ? () => ownStore.isReady() : undefined,
      embeddedStats: ownStore ? () => ownStore.stats() : undefined,
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
    // Nothing is left behind: the port is released and the store closed cleanly.
    await http.stop(0);
    await store?.close();
    await embedded?.close();
    await telemetry?.shutdown();
    throw error;
  }
  const connectedStore = store;
  const {
    services,
    app,
    worker,
    sweeper,
    ticks,
    pipelineTick,
    agreementSchedule,
    refresher,
    integrationTick,
  } = assembled;
  // A worker-only process serves only what operators scrape and probe.
  const operational = new Set(["/metrics", "/healthz", "/readyz"]);
  handle =
    config.role === "worker"
      ? (request, response) => {
          if (operational.has(new URL(request.url ?? "/", "http://x").pathname)) {
            app.handleNodeRequest(request, response);
          } else {
            response
              .writeHead(404, { "content-type": "text/plain" })
              .end("this Loopgate process runs jobs only (LOOPGATE_ROLE=worker)\n");
          }
        }
      : app.handleNodeRequest;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info(
    { url: `${url}/graphql`, port: address.port, role: config.role },
    "Loopgate is listening",
  );
  worker?.start();
  sweeper?.start();
  for (const tick of ticks) tick.start();
  pipelineTick?.start();
  agreementSchedule?.start();
  refresher.start();
  integrationTick?.start();

  let stopping: Promise<void> | undefined;
  return {
    config,
    url,
    stop() {
      stopping ??= (async () => {
        // Workers stop claiming at once and get the same timeout as in-flight requests; jobs
        // still running then keep their leases, which expire so another worker runs them. Live
        // subscriptions end once the other requests are answered: they would otherwise hold the
        // drain open until the timeout, and subscribers still get the drained writes' events.
        const [{ forced }] = await Promise.all([
          http.stop(config.shutdownTimeoutMs, () => services.events.close()),
          worker?.stop(config.shutdownTimeoutMs),
          sweeper?.stop(),
          ...ticks.map((tick) => tick.stop()),
          pipelineTick?.stop(),
          agreementSchedule?.stop(),
          refresher.stop(),
          integrationTick?.stop(),
        ]);
        if (forced) logger.warn("shutdown timeout reached; open connections were cut");
        // The answered writes' in-process remainders (outbox.ts) finish before the store closes.
        await services.outbox.drain();
        await connectedStore.close();
        await embedded?.close();
        await telemetry
          ?.shutdown()
          .catch((error: unknown) => logger.warn({ err: error }, "flushing the last spans failed"));
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
    // One line that says why; the store's and the listener's errors carry their own advice.
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`Loopgate failed to start: ${reason.split("\n")[0]}\n`);
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
