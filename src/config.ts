import { z } from "zod";
import {
  type PipelineConfig,
  pipelineConfig,
  pipelineConfigProblems,
  pipelineEnv,
} from "./pipeline/config.js";
import {
  type AuditConfig,
  auditConfigSchema,
  type JudgesConfig,
  jsonEnv,
  judgesConfigSchema,
} from "./pipeline/judges-config.js";

/**
 * Every environment variable Loopgate reads, in one schema. Only the composition root passes
 * `process.env` in; everything else receives the parsed `Config`.
 */
const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => value === "true" || value === "1" || value === "yes");

const optionalSecret = (minLength: number) =>
  z
    .string()
    .min(minLength, `must be at least ${minLength} characters`)
    .optional()
    .or(z.literal("").transform(() => undefined));

/** The durable job queue (src/jobs/) and which half of the gateway this process runs. */
const jobsEnv = {
  /** all: API and workers; api: only the GraphQL API (enqueues); worker: only runs jobs. */
  LOOPGATE_ROLE: z.enum(["all", "api", "worker"]).default("all"),
  /** Jobs one process runs at once (across types; each type may set a lower limit). */
  JOBS_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** A claimed job's lease; heartbeats renew it every third of it. */
  JOBS_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
  /** Wait between claims while no job is runnable. */
  JOBS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  /**
   * How often a worker sweeps for feedback whose post-write steps did not finish (a crash between
   * the insert and the steps), and how old such a marker must be before the sweeper takes over.
   */
  JOBS_SWEEP_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
  /** How long succeeded and cancelled jobs stay listed before they are purged. */
  JOBS_KEEP_FINISHED_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(7 * 24),
};

/** Automated feedback (RLAIF judges) and the bias/drift audit: one JSON block each. */
const judgesEnv = {
  /** The `judges` block (pipeline/judges-config.ts); unset: no automated feedback. */
  JUDGES_CONFIG: jsonEnv(judgesConfigSchema),
  /** The `audit` block; unset: defaults (no segment fields, topic from metadata.topic). */
  AUDIT_CONFIG: jsonEnv(auditConfigSchema),
};

/** Training datasets and annotator agreement (src/datasets/, src/pipeline/agreement-reports.ts). */
const datasetsEnv = {
  /** Minutes between scheduled agreement recomputations; 0 turns the schedule off. */
  DATASETS_AGREEMENT_INTERVAL_MINUTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(60),
  /** Items judged by two or more raters a key or batch needs before it gets a report. */
  DATASETS_AGREEMENT_MIN_ITEMS: z.coerce.number().int().min(1).max(10_000).default(3),
};

/** Metrics (src/observability/): the model label's values and the window gauges' refresh loop. */
const metricsEnv = {
  /**
   * Comma-separated model ids (`support-bot`: every version) or id@version (`support-bot@v2`):
   * the values the `model` label takes; every other model is counted as `other`.
   */
  METRICS_MODELS: z
    .string()
    .default("")
    .transform((value) => [
      ...new Set(
        value
          .split(",")
          .map((part) => part.trim())
          .filter(Boolean),
      ),
    ])
    .refine((models) => models.length <= 50, "at most 50 models (each adds series)")
    .refine(
      (models) => models.every((model) => /^[\w.:/-]{1,100}(@[\w.:/-]{1,100})?$/.test(model)),
      "each entry is a model id or id@version (letters, digits, . _ : / -)",
    ),
  /** How often the window gauges are recomputed from the database. */
  METRICS_REFRESH_SECONDS: z.coerce.number().min(0.1).max(3_600).default(30),
  /** How often the 7-day rollups behind the window gauges are rebuilt from scratch. */
  METRICS_REBUILD_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(360),
};

/** An empty variable counts as unset (as the OpenTelemetry specification asks). */
const emptyAsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema);

/**
 * OpenTelemetry tracing, from the standard variables (opentelemetry.io/docs/specs/otel/configuration/
 * sdk-environment-variables): on when OTEL_TRACES_EXPORTER names an exporter, or when an OTLP
 * endpoint is set and OTEL_TRACES_EXPORTER does not say `none`.
 */
const otelEnv = {
  OTEL_SDK_DISABLED: booleanFlag.default(false),
  OTEL_TRACES_EXPORTER: emptyAsUnset(
    z
      .enum(["otlp", "console", "none"], {
        message: "supported: otlp (OTLP over HTTP), console, none",
      })
      .optional(),
  ),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url()
    .optional()
    .or(z.literal("").transform(() => undefined)),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url()
    .optional()
    .or(z.literal("").transform(() => undefined)),
  OTEL_EXPORTER_OTLP_PROTOCOL: emptyAsUnset(
    z
      .enum(["http/protobuf", "http/json"], {
        message: "supported: http/protobuf, http/json (gRPC is not built in)",
      })
      .optional(),
  ),
  OTEL_SERVICE_NAME: z.string().min(1).default("loopgate"),
};

const optionalUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .optional()
  .or(z.literal("").transform(() => undefined));
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

/** LangSmith, Argilla and Label Studio syncs (src/integrations/): each off until its key is set. */
const integrationsEnv = {
  /** How often each enabled integration's push and pull are queued. */
  INTEGRATIONS_SYNC_SECONDS: z.coerce.number().int().min(5).max(86_400).default(300),
  /** Per-request timeout towards the services. */
  INTEGRATIONS_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  LANGSMITH_API_KEY: optionalText,
  LANGSMITH_ENDPOINT: optionalUrl,
  LANGSMITH_WORKSPACE_ID: optionalText,
  /** The tracing project whose runs are imported and whose feedback is pulled. */
  LANGSMITH_PROJECT: optionalText,
  /** How far back runs are imported and their feedback is pulled. */
  LANGSMITH_LOOKBACK_DAYS: z.coerce.number().int().min(1).max(400).default(14),
  ARGILLA_API_URL: optionalUrl,
  ARGILLA_API_KEY: optionalText,
  ARGILLA_WORKSPACE: z
    .string()
    .regex(/^(?!-|_)[a-z0-9-_]+$/, "must be lowercase letters, digits, '-' or '_'")
    .default("loopgate"),
  /** Submitted responses a record needs before Argilla marks it completed (overlap). */
  ARGILLA_MIN_SUBMITTED: z.coerce.number().int().min(1).max(20).default(2),
  /** The webhook's Standard Webhooks secret (`whsec_…`), as Argilla returned it. */
  ARGILLA_WEBHOOK_SECRET: optionalText,
  LABEL_STUDIO_URL: optionalUrl,
  LABEL_STUDIO_API_KEY: optionalText,
  /** Annotations each task needs (overlap, for agreement). */
  LABEL_STUDIO_MAX_ANNOTATIONS: z.coerce.number().int().min(1).max(20).default(2),
  LABEL_STUDIO_WEBHOOK_HEADER: z
    .string()
    .regex(/^[a-zA-Z0-9-_]+$/, "must be a header name")
    .default("X-Loopgate-Webhook-Token"),
  LABEL_STUDIO_WEBHOOK_TOKEN: optionalSecret(24),
};

export const configSchema = z.object({
  ...jobsEnv,
  ...judgesEnv,
  ...pipelineEnv,
  ...datasetsEnv,
  ...metricsEnv,
  ...otelEnv,
  ...integrationsEnv,
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65_535).default(4000),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, "must start with mongodb:// or mongodb+srv://")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  MONGODB_DB: z
    .string()
    .regex(/^[^/\\. "$*<>:|?]{1,63}$/, "must be a valid MongoDB database name")
    .default("loopgate"),
  DATA_DIR: z.string().min(1).default("./data"),
  /** Embedded store only: budget of its decoded-document cache, in MiB (documents stay in SQLite). */
  EMBEDDED_CACHE_MB: z.coerce.number().int().min(1).max(65_536).default(64),
  /** Embedded store only: documents past which the log warns once to move to MongoDB. */
  // The largest size measured (`npm run bench -- --only scale --docs 2000000`: 233 MB RSS).
  EMBEDDED_BUDGET_DOCUMENTS: z.coerce.number().int().positive().default(2_000_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  GRAPHIQL: booleanFlag.optional(),
  /**
   * Signs feedback tokens and keys the pseudonymization hash. In development a random secret is
   * generated and kept under DATA_DIR; production must set it so every instance agrees.
   */
  LOOPGATE_SECRET: optionalSecret(32),
  /** Lifetime of a browser feedback token. */
  FEEDBACK_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(24 * 3600),
  /** Comma-separated PII kinds to redact on ingest; "none" turns redaction off. */
  PII_REDACT: z
    .string()
    .default("email,phone,card,ip")
    .transform((value, ctx) => {
      const kinds = value
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean);
      if (kinds.length === 1 && kinds[0] === "none") return [];
      const known = ["email", "phone", "card", "ip"] as const;
      const unknown = kinds.filter((kind) => !(known as readonly string[]).includes(kind));
      if (unknown.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `unknown PII kinds: ${unknown.join(", ")} (known: ${known.join(", ")}, or none)`,
        });
        return z.NEVER;
      }
      return kinds as Array<(typeof known)[number]>;
    }),
  /**
   * An admin API key to install at start (hashed before it is stored). Lets operators provision
   * the first key from a secret store instead of reading it from the log.
   */
  LOOPGATE_BOOTSTRAP_ADMIN_KEY: optionalSecret(24),
  /** Reject feedback on keys that no admin declared with defineFeedbackKey. */
  FEEDBACK_KEYS_ENFORCED: booleanFlag.default(false),
  /**
   * Bearer token Alertmanager and Grafana present at /hooks/alerts; unset turns the webhook off.
   */
  ALERT_WEBHOOK_TOKEN: optionalSecret(24),
  /** Origins allowed to call the API from a browser (feedback tokens); "*" allows any. */
  CORS_ORIGINS: z
    .string()
    .default("*")
    .transform((value) =>
      value
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
  // The edge: how long the database may take and how many connections clients may hold.
  /** A database round trip that takes longer fails (socket timeout) and the request gets 503. */
  MONGODB_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** How long a request waits for a reachable database before it gets 503. */
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** /readyz answers within this bound even while the database hangs. */
  READINESS_TIMEOUT_MS: z.coerce.number().int().min(50).max(1_900).default(1_500),
  /** Open connections over all clients; 0 means no limit. */
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(0).default(1_024),
  /** Open connections per client address; 0 means no limit (e.g. behind a reverse proxy). */
  HTTP_MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(0).default(128),
  /** A connection must have sent a request's headers within this time, or it is closed. */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** A whole request (headers and body) must arrive within this time. */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  /** A live-feed client whose socket accepts nothing for this long is disconnected. */
  LIVE_FEED_STALL_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
});

type ParsedEnv = z.output<typeof configSchema>;

export interface Config {
  readonly env: ParsedEnv["NODE_ENV"];
  readonly host: string;
  readonly port: number;
  /** Undefined means: start the embedded store. */
  readonly mongodbUri: string | undefined;
  readonly mongodbDb: string;
  readonly dataDir: string;
  readonly embeddedCacheMb: number;
  readonly embeddedBudgetDocuments: number;
  readonly logLevel: ParsedEnv["LOG_LEVEL"];
  readonly shutdownTimeoutMs: number;
  readonly graphiql: boolean;
  readonly secret: string | undefined;
  readonly feedbackTokenTtlSeconds: number;
  readonly piiRedact: ParsedEnv["PII_REDACT"];
  readonly bootstrapAdminKey: string | undefined;
  readonly enforceDeclaredKeys: boolean;
  readonly corsOrigins: readonly string[];
  readonly role: ParsedEnv["LOOPGATE_ROLE"];
  readonly jobs: {
    readonly concurrency: number;
    readonly leaseMs: number;
    readonly pollMs: number;
    readonly keepFinishedMs: number;
    readonly sweepIntervalMs: number;
  };
  readonly datasets: {
    /** 0: no scheduled agreement recomputation. */
    readonly agreementIntervalMs: number;
    readonly agreementMinItems: number;
  };
  /** Undefined means: the alert webhook is off. */
  readonly alertWebhookToken: string | undefined;
  readonly edge: EdgeConfig;
  /** Undefined means: no automated feedback (RLAIF) is configured. */
  readonly judges: JudgesConfig | undefined;
  readonly audit: AuditConfig;
  /** The processing pipeline (src/pipeline/config.ts). */
  readonly pipeline: PipelineConfig;
  readonly metrics: {
    /** Values of the `model` label besides `other`. */
    readonly models: readonly string[];
    readonly refreshIntervalMs: number;
    readonly rebuildIntervalMs: number;
  };
  readonly otel: OtelConfig;
  readonly integrations: IntegrationsConfig;
}

/** Each integration is present only when its credentials are configured. */
export interface IntegrationsConfig {
  readonly syncIntervalMs: number;
  readonly httpTimeoutMs: number;
  readonly langsmith?: {
    readonly apiUrl: string;
    readonly apiKey: string;
    readonly workspaceId: string | undefined;
    readonly project: string | undefined;
    readonly lookbackDays: number;
  };
  readonly argilla?: {
    readonly apiUrl: string;
    readonly apiKey: string;
    readonly workspace: string;
    readonly minSubmitted: number;
    readonly webhookSecret: string | undefined;
  };
  readonly labelstudio?: {
    readonly url: string;
    readonly apiKey: string;
    readonly maxAnnotations: number;
    readonly webhookHeader: string;
    readonly webhookToken: string | undefined;
  };
}

type IntegrationsEnv = z.output<z.ZodObject<typeof integrationsEnv>>;

/** Half-configured integrations are problems, reported with every other one. */
function integrationProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  const set = (name: string) => Boolean(env[name]?.trim());
  const pairs: Array<[string, string, string[]]> = [
    ["ARGILLA_API_KEY", "ARGILLA_API_URL", ["ARGILLA_WEBHOOK_SECRET"]],
    ["LABEL_STUDIO_API_KEY", "LABEL_STUDIO_URL", ["LABEL_STUDIO_WEBHOOK_TOKEN"]],
    [
      "LANGSMITH_API_KEY",
      "",
      ["LANGSMITH_PROJECT", "LANGSMITH_WORKSPACE_ID", "LANGSMITH_ENDPOINT"],
    ],
  ];
  const problems: string[] = [];
  for (const [key, url, dependents] of pairs) {
    if (url && set(key) && !set(url)) problems.push(`${url}: is required when ${key} is set`);
    if (url && set(url) && !set(key)) problems.push(`${key}: is required when ${url} is set`);
    for (const dependent of dependents)
      if (set(dependent) && !set(key)) problems.push(`${dependent}: needs ${key} to be set`);
  }
  return problems;
}

function integrationsConfig(env: IntegrationsEnv): IntegrationsConfig {
  return {
    syncIntervalMs: env.INTEGRATIONS_SYNC_SECONDS * 1_000,
    httpTimeoutMs: env.INTEGRATIONS_HTTP_TIMEOUT_MS,
    ...(env.LANGSMITH_API_KEY
      ? {
          langsmith: {
            apiUrl: env.LANGSMITH_ENDPOINT ?? "https://api.smith.langchain.com",
            apiKey: env.LANGSMITH_API_KEY,
            workspaceId: env.LANGSMITH_WORKSPACE_ID,
            project: env.LANGSMITH_PROJECT,
            lookbackDays: env.LANGSMITH_LOOKBACK_DAYS,
          },
        }
      : {}),
    ...(env.ARGILLA_API_KEY && env.ARGILLA_API_URL
      ? {
          argilla: {
            apiUrl: env.ARGILLA_API_URL,
            apiKey: env.ARGILLA_API_KEY,
            workspace: env.ARGILLA_WORKSPACE,
            minSubmitted: env.ARGILLA_MIN_SUBMITTED,
            webhookSecret: env.ARGILLA_WEBHOOK_SECRET,
          },
        }
      : {}),
    ...(env.LABEL_STUDIO_API_KEY && env.LABEL_STUDIO_URL
      ? {
          labelstudio: {
            url: env.LABEL_STUDIO_URL,
            apiKey: env.LABEL_STUDIO_API_KEY,
            maxAnnotations: env.LABEL_STUDIO_MAX_ANNOTATIONS,
            webhookHeader: env.LABEL_STUDIO_WEBHOOK_HEADER,
            webhookToken: env.LABEL_STUDIO_WEBHOOK_TOKEN,
          },
        }
      : {}),
  };
}

/** Time and connection limits at the HTTP edge and towards the database. */
export interface EdgeConfig {
  readonly mongodbTimeoutMs: number;
  readonly mongodbServerSelectionTimeoutMs: number;
  readonly readinessTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly liveFeedStallTimeoutMs: number;
}

/** What the standard OTEL_* variables ask for. */
export interface OtelConfig {
  /** `otlp` (OTLP over HTTP, JSON) or `console`; undefined: tracing is off. */
  readonly exporter: "otlp" | "console" | undefined;
  /** OTLP/HTTP traces URL (…/v1/traces); undefined: the exporter's default. */
  readonly tracesEndpoint: string | undefined;
  readonly serviceName: string;
}

function otelConfig(env: ParsedEnv): OtelConfig {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const asked =
    env.OTEL_TRACES_EXPORTER ?? (endpoint !== undefined ? ("otlp" as const) : undefined);
  return {
    exporter: env.OTEL_SDK_DISABLED || asked === "none" ? undefined : asked,
    // The generic endpoint is a base URL: the signal's path is appended (the spec's rule).
    tracesEndpoint:
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
      (env.OTEL_EXPORTER_OTLP_ENDPOINT
        ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, "")}/v1/traces`
        : undefined),
    serviceName: env.OTEL_SERVICE_NAME,
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the whole environment at once so that every problem is reported together. */
export function loadConfig(environment: Readonly<Record<string, string | undefined>>): Config {
  const result = configSchema.safeParse(environment);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join(".") || "(env)"}: ${issue.message}`);
  // Checked on the raw values so it is reported together with any other problem.
  if (environment.NODE_ENV === "production" && !environment.LOOPGATE_SECRET) {
    problems.push("LOOPGATE_SECRET: is required when NODE_ENV=production (at least 32 characters)");
  }
  if (result.success && result.data.HTTP_REQUEST_TIMEOUT_MS < result.data.HTTP_HEADERS_TIMEOUT_MS) {
    problems.push("HTTP_REQUEST_TIMEOUT_MS: must not be shorter than HTTP_HEADERS_TIMEOUT_MS");
  }
  const apiKeys: Record<string, string> = {};
  for (const judge of result.success ? (result.data.JUDGES_CONFIG?.judges ?? []) : []) {
    if (judge.type !== "openai" || !judge.apiKeyEnv) continue;
    const key = environment[judge.apiKeyEnv];
    if (key) apiKeys[judge.name] = key;
    else problems.push(`${judge.apiKeyEnv}: is required by judge ${judge.name} (JUDGES_CONFIG)`);
  }
  problems.push(...pipelineConfigProblems(environment));
  problems.push(...integrationProblems(environment));
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const env = result.data;
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    mongodbUri: env.MONGODB_URI,
    mongodbDb: env.MONGODB_DB,
    dataDir: env.DATA_DIR,
    embeddedCacheMb: env.EMBEDDED_CACHE_MB,
    embeddedBudgetDocuments: env.EMBEDDED_BUDGET_DOCUMENTS,
    logLevel: env.LOG_LEVEL,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    graphiql: env.GRAPHIQL ?? env.NODE_ENV !== "production",
    secret: env.LOOPGATE_SECRET,
    feedbackTokenTtlSeconds: env.FEEDBACK_TOKEN_TTL_SECONDS,
    piiRedact: env.PII_REDACT,
    bootstrapAdminKey: env.LOOPGATE_BOOTSTRAP_ADMIN_KEY,
    enforceDeclaredKeys: env.FEEDBACK_KEYS_ENFORCED,
    corsOrigins: env.CORS_ORIGINS,
    role: env.LOOPGATE_ROLE,
    jobs: {
      concurrency: env.JOBS_CONCURRENCY,
      leaseMs: env.JOBS_LEASE_MS,
      pollMs: env.JOBS_POLL_MS,
      keepFinishedMs: env.JOBS_KEEP_FINISHED_HOURS * 3_600_000,
      sweepIntervalMs: env.JOBS_SWEEP_SECONDS * 1_000,
    },
    datasets: {
      agreementIntervalMs: env.DATASETS_AGREEMENT_INTERVAL_MINUTES * 60_000,
      agreementMinItems: env.DATASETS_AGREEMENT_MIN_ITEMS,
    },
    alertWebhookToken: env.ALERT_WEBHOOK_TOKEN,
    judges: env.JUDGES_CONFIG ? { ...env.JUDGES_CONFIG, apiKeys } : undefined,
    audit: env.AUDIT_CONFIG ?? auditConfigSchema.parse({}),
    edge: {
      mongodbTimeoutMs: env.MONGODB_TIMEOUT_MS,
      mongodbServerSelectionTimeoutMs: env.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
      readinessTimeoutMs: env.READINESS_TIMEOUT_MS,
      maxConnections: env.HTTP_MAX_CONNECTIONS,
      maxConnectionsPerClient: env.HTTP_MAX_CONNECTIONS_PER_CLIENT,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      liveFeedStallTimeoutMs: env.LIVE_FEED_STALL_TIMEOUT_MS,
    },
    pipeline: pipelineConfig(env),
    metrics: {
      models: env.METRICS_MODELS,
      refreshIntervalMs: Math.round(env.METRICS_REFRESH_SECONDS * 1_000),
      rebuildIntervalMs: env.METRICS_REBUILD_MINUTES * 60_000,
    },
    otel: otelConfig(env),
    integrations: integrationsConfig(env),
  };
}
