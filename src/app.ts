import type { IncomingMessage, ServerResponse } from "node:http";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { GraphQLError, type GraphQLSchema } from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { Principal } from "./auth/actor.js";
import { AuthenticationError } from "./auth/authenticate.js";
import { useBodyLimits } from "./body-limits.js";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { RequestContext } from "./context.js";
import { createDatasetExportRoute, DATASET_EXPORT_PREFIX } from "./datasets/http-export.js";
import { requestParsingPlugin } from "./edge/request-parsing.js";
import { resultStatusPlugin } from "./edge/result-status.js";
import { slowConsumerPlugin } from "./edge/slow-consumers.js";
import { storeUnavailableError } from "./edge/unavailable.js";
import { DomainError } from "./errors.js";
import { requestClient } from "./feedback/client.js";
import { graphiqlTabs } from "./graphiql-examples.js";
import { ALERT_WEBHOOK_PATH, createAlertWebhook } from "./integrations/alerts/webhook.js";
import { ARGILLA_WEBHOOK_PATH, createArgillaWebhook } from "./integrations/sync/argilla-webhook.js";
import {
  createLabelStudioWebhook,
  LABEL_STUDIO_WEBHOOK_PATH,
} from "./integrations/sync/labelstudio-webhook.js";
import type { Logger } from "./observability/logger.js";
import type { Metrics } from "./observability/metrics.js";
import { type RequestScopes, requestIdFrom } from "./observability/request-scope.js";
import { tracingPlugin } from "./observability/tracing.js";
import { payloadScopesPlugin } from "./schema/payload-scopes.js";
import type { Services } from "./services.js";
import { isStoreUnavailable } from "./store/errors.js";
import type { Loaders } from "./store/loaders.js";

export interface AppDeps {
  readonly config: Pick<
    Config,
    "graphiql" | "env" | "corsOrigins" | "alertWebhookToken" | "edge" | "pipeline" | "integrations"
  >;
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly scopes: RequestScopes;
  readonly clock: Clock;
  /** A fresh set of request-scoped loaders. */
  readonly createLoaders: () => Loaders;
}

export interface App {
  readonly yoga: YogaServerInstance<Record<string, unknown>, RequestContext>;
  /** In-process entry point with exactly the HTTP server's behaviour; tests drive it. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Node `http` request listener. */
  handleNodeRequest(request: IncomingMessage, response: ServerResponse): void;
}

export const GRAPHQL_PATH = "/graphql";

export function createApp(deps: AppDeps): App {
  const { logger, scopes } = deps;
  // The self-contained GraphiQL page is ~9 MB of inlined assets (no CDN, so it works offline);
  // render it once instead of on every page load.
  let graphiqlPage: string | undefined;

  // Memoized per request: a large body is authenticated before it is read, the context reuses it.
  const principals = new WeakMap<Request, Promise<Principal>>();
  const authenticate = (request: Request): Promise<Principal> => {
    let principal = principals.get(request);
    if (!principal) {
      principal = deps.services.authenticate(request.headers).catch((error: unknown) => {
        if (!(error instanceof AuthenticationError)) throw error;
        logger.info({ code: "UNAUTHENTICATED" }, "credential refused");
        throw new GraphQLError(error.message, {
          extensions: {
            code: "UNAUTHENTICATED",
            http: { status: 401, headers: { "WWW-Authenticate": "Bearer" } },
          },
        });
      });
      principals.set(request, principal);
    }
    return principal;
  };

  const yoga = createYoga<Record<string, unknown>, RequestContext>({
    schema: deps.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(args.length === 1 ? args[0] : args),
      info: (...args) => logger.info(args.length === 1 ? args[0] : args),
      warn: (...args) => logger.warn(args.length === 1 ? args[0] : args),
      // maskError below logs each unexpected error once, with its request id; yoga would log
      // every masked error again at error level, client mistakes included.
      error: (...args) => logger.debug(args.length === 1 ? args[0] : args),
    },
    graphiql: deps.config.graphiql
      ? {
          title: "Loopgate GraphiQL",
          defaultTabs: graphiqlTabs,
          headers: JSON.stringify({ Authorization: "Bearer <your API key>" }),
          shouldPersistHeaders: true,
          subscriptionsProtocol: "SSE",
        }
      : false,
    renderGraphiQL: (options) => {
      graphiqlPage ??= renderGraphiQL(options);
      return graphiqlPage;
    },
    cors: {
      origin: [...deps.config.corsOrigins],
      credentials: false,
      allowedHeaders: ["authorization", "content-type", "x-api-key", "x-request-id"],
      methods: ["GET", "POST", "OPTIONS"],
    },
    maskedErrors: {
      maskError: (error, message) => {
        const original = error instanceof GraphQLError ? error.originalError : error;
        // Domain errors (e.g. a ForbiddenError on a field without a result union) and GraphQL's
        // own errors are meant for the client; they carry a stable code.
        if (original instanceof DomainError) {
          // A client mistake: one line, no stack, and no echo of the input that caused it.
          logger.info(
            { code: original.code, path: (error as GraphQLError).path?.join(".") },
            "request refused",
          );
          const located = error instanceof GraphQLError ? error : undefined;
          return new GraphQLError(original.message, {
            nodes: located?.nodes,
            path: located?.path,
            extensions: { ...located?.extensions, code: original.code },
          });
        }
        if (error instanceof GraphQLError && (!original || original instanceof GraphQLError))
          return error;
        if (isStoreUnavailable(original ?? error)) {
          // An outage is the operator's concern once, not a stack trace per request.
          logger.warn(
            { err: { type: (original as Error)?.name, message: (original as Error)?.message } },
            "database unavailable: answered 503",
          );
          return storeUnavailableError(scopes.current()?.requestId);
        }
        logger.error({ err: original ?? error }, "unexpected error while executing an operation");
        return new GraphQLError(message, {
          extensions: { code: "INTERNAL_SERVER_ERROR", requestId: scopes.current()?.requestId },
        });
      },
    },
    context: async ({ request, req }): Promise<RequestContext> => {
      const principal = await authenticate(request);
      const remote = (req as { socket?: { remoteAddress?: string } } | undefined)?.socket;
      return {
        requestId: scopes.current()?.requestId ?? requestIdFrom(null),
        logger,
        principal,
        clock: deps.clock,
        services: deps.services,
        loaders: deps.createLoaders(),
        client: requestClient(
          request.headers,
          remote?.remoteAddress,
          deps.config.pipeline.trustForwardedFor,
        ),
      };
    },
    plugins: [
      useBodyLimits({ authenticate }),
      healthPlugin(deps.services, logger),
      requestLogPlugin(logger, scopes),
      // After the access log, so webhook calls are logged with their duration.
      routePlugin(
        ALERT_WEBHOOK_PATH,
        createAlertWebhook({
          token: deps.config.alertWebhookToken,
          intake: deps.services.alerts,
          logger,
        }),
      ),
      routePlugin(
        DATASET_EXPORT_PREFIX,
        createDatasetExportRoute({
          datasets: deps.services.datasets,
          authenticate: deps.services.authenticate,
          logger,
        }),
      ),
      routePlugin(
        ARGILLA_WEBHOOK_PATH,
        createArgillaWebhook({
          secret: deps.config.integrations.argilla?.webhookSecret,
          integrations: deps.services.integrations,
          logger,
        }),
      ),
      routePlugin(
        LABEL_STUDIO_WEBHOOK_PATH,
        createLabelStudioWebhook({
          header: deps.config.integrations.labelstudio?.webhookHeader ?? "",
          token: deps.config.integrations.labelstudio?.webhookToken,
          integrations: deps.services.integrations,
          logger,
        }),
      ),
      resultStatusPlugin(),
      requestParsingPlugin(),
      slowConsumerPlugin({ stallTimeoutMs: deps.config.edge.liveFeedStallTimeoutMs, logger }),
      // Spans of operations and root fields (no-ops while the SDK is off, see telemetry.ts).
      tracingPlugin(deps.schema),
      usePrometheus({
        registry: deps.metrics.registry,
        endpoint: "/metrics",
        skipIntrospection: true,
        metrics: {
          graphql_envelop_request: true,
          graphql_envelop_request_duration: true,
          graphql_envelop_phase_parse: true,
          graphql_envelop_phase_validate: true,
          graphql_envelop_phase_context: true,
          graphql_envelop_phase_execute: true,
          graphql_envelop_phase_subscribe: true,
          graphql_envelop_error_result: true,
          graphql_envelop_deprecated_field: true,
          graphql_yoga_http_duration: true,
        },
        // Labels clients choose freely (URL, operation name, error path with list indices) would
        // let anyone, even unauthenticated, create unbounded series; only bounded ones are kept.
        labels: { url: false, operationName: false, path: false },
      }),
      // A write's answer never selects what its credential may not read; refused before it runs.
      payloadScopesPlugin(),
      // Depth, alias, token and cost limits stop hostile documents before they execute.
      EnvelopArmorPlugin({
        maxDepth: { n: 10, ignoreIntrospection: true },
        maxAliases: { n: 20 },
        maxTokens: { n: 2000 },
        costLimit: { maxCost: 20_000, ignoreIntrospection: true },
        blockFieldSuggestion: { enabled: deps.config.env === "production" },
      }),
    ],
  });

  const fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request =
      input instanceof Request && !init
        ? input
        : new Request(new URL(String(input), "http://localhost"), init);
    const requestId = requestIdFrom(request.headers.get("x-request-id"));
    return scopes.run({ requestId }, () => Promise.resolve(yoga.fetch(request)));
  };

  return {
    yoga,
    fetch,
    handleNodeRequest(request, response) {
      const header = request.headers["x-request-id"];
      const requestId = requestIdFrom(Array.isArray(header) ? header[0] : header);
      scopes.run({ requestId }, () => {
        void yoga(request, response);
      });
    },
  };
}

/** `/healthz` says the process is alive; `/readyz` answers 200 only while the database answers a
 * ping, so load balancers stop routing to an instance that lost its store. */
function healthPlugin(services: Services, logger: Logger): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === "/healthz") {
        endResponse(fetchAPI.Response.json({ status: "ok" }, { status: 200 }));
        return;
      }
      if (url.pathname !== "/readyz") return;
      try {
        await services.system.checkReady();
        endResponse(fetchAPI.Response.json({ status: "ready", store: "ok" }, { status: 200 }));
      } catch (error) {
        // The driver's message names hosts and ports: logged, not shown to anonymous callers.
        logger.warn({ err: error }, "readiness check failed: the database does not answer");
        endResponse(
          fetchAPI.Response.json({ status: "unavailable", store: "unreachable" }, { status: 503 }),
        );
      }
    },
  };
}

/**
 * A plain HTTP route beside GraphQL (webhooks, downloads): the handler answers every method
 * itself. A path ending in "/" is a prefix (the handler parses the rest).
 */
function routePlugin(path: string, handler: (request: Request) => Promise<Response>): Plugin {
  const matches = (pathname: string) =>
    path.endsWith("/") ? pathname.startsWith(path) : pathname === path;
  return {
    async onRequest({ url, request, endResponse }) {
      if (matches(url.pathname)) endResponse(await handler(request));
    },
  };
}

/** One access-log line per request and the request id echoed back for support tickets. */
function requestLogPlugin(logger: Logger, scopes: RequestScopes): Plugin {
  const started = new WeakMap<Request, number>();
  const quietPaths = new Set(["/metrics", "/healthz", "/readyz"]);
  return {
    onRequest({ request }) {
      started.set(request, performance.now());
    },
    onResponse({ request, response }) {
      const requestId = scopes.current()?.requestId;
      if (requestId) response.headers.set("x-request-id", requestId);
      const path = new URL(request.url).pathname;
      const begin = started.get(request);
      const entry = {
        method: request.method,
        path,
        status: response.status,
        durationMs:
          begin === undefined ? undefined : Math.round((performance.now() - begin) * 10) / 10,
      };
      if (quietPaths.has(path)) logger.debug(entry, "request");
      else logger.info(entry, "request");
    },
  };
}
