import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { CommandStartedEvent } from "mongodb";
import { afterAll, beforeAll, inject } from "vitest";
import type { App } from "../../src/app.js";
import { type Scope, systemActor } from "../../src/auth/actor.js";
import { type Clock, systemClock } from "../../src/clock.js";
import { type Config, loadConfig } from "../../src/config.js";
import type { Periodic } from "../../src/jobs/periodic.js";
import type { JobCatalog } from "../../src/jobs/types.js";
import type { JobWorker } from "../../src/jobs/worker.js";
import { assemble } from "../../src/main.js";
import { createLogger, type Logger } from "../../src/observability/logger.js";
import { createRequestScopes } from "../../src/observability/request-scope.js";
import type { WindowMetrics } from "../../src/observability/window-metrics.js";
import type { Categorizer } from "../../src/pipeline/categorize.js";
import type { Services } from "../../src/services.js";
import { type Collections, connectStore, type Store } from "../../src/store/mongo.js";
import { uniqueDbName } from "./mongo.js";

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, unknown>; path?: unknown[] }>;
}

export interface TestApp {
  readonly app: App;
  readonly services: Services;
  /** The job worker (not started; LOOPGATE_ROLE=api leaves it undefined). */
  readonly worker: JobWorker | undefined;
  /** The pipeline's tick beside the worker (not started). */
  readonly pipelineTick: Periodic | undefined;
  /** The window gauges (their refresh loop is not started: tests call `refresh()`). */
  readonly windowMetrics: WindowMetrics;
  /** Their refresh loop (METRICS_REFRESH_SECONDS), not started; stopped after the file. */
  readonly refresher: Periodic;
  readonly store: Store;
  readonly config: Config;
  /** Every JSON line the app logged, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Commands the driver sent (command monitoring), for round-trip counting. */
  readonly commands: CommandStartedEvent[];
  /** A key with all three scopes. */
  adminKey: string;
  /** Creates a key with exactly these scopes. */
  key(scopes: Scope[]): Promise<string>;
  /** POSTs a GraphQL operation in-process through the app's HTTP handling. */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    credential?: string | null,
  ): Promise<GraphQLResponse<T>>;
}

export interface TestAppOptions {
  readonly clock?: Clock;
  /** Extra environment variables (e.g. PII_REDACT, FEEDBACK_KEYS_ENFORCED). */
  readonly env?: Record<string, string>;
  /** Job types and handlers instead of the production catalog. */
  readonly jobs?: JobCatalog<Services>;
  /** Categorizers the pipeline asks after its rules. */
  readonly categorizers?: readonly Categorizer[];
}

/**
 * The real app, in-process, on the shared test store with a database of its own: the same
 * composition as src/main.ts minus the HTTP listener. Registers its own setup and teardown.
 */
export function useTestApp(options: TestAppOptions = {}): TestApp {
  const handle = {} as TestApp & { [key: string]: unknown };
  let dataDir = "";
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "loopgate-test-"));
    const config = loadConfig({
      NODE_ENV: "test",
      DATA_DIR: dataDir,
      MONGODB_URI: inject("mongoUri"),
      MONGODB_DB: uniqueDbName("app"),
      LOOPGATE_SECRET: "test-secret-test-secret-test-secret-0123456789",
      ...options.env,
    });
    const logs: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n").filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    });
    const scopes = createRequestScopes();
    const logger: Logger = createLogger({ level: "debug", scopes, destination });
    const commands: CommandStartedEvent[] = [];
    const store = await connectStore({
      uri: config.mongodbUri ?? "",
      dbName: config.mongodbDb,
      logger,
      clientOptions: { monitorCommands: true },
    });
    store.client.on("commandStarted", (event) => commands.push(event));
    await store.ensureIndexes();
    const clock = options.clock ?? systemClock;
    const { services, app, worker, pipelineTick, windowMetrics, refresher } = assemble({
      config,
      store,
      clock,
      logger,
      scopes,
      secret: config.secret ?? "",
      storeKind: "mongodb",
      jobs: options.jobs,
      categorizers: options.categorizers,
    });
    const key = async (keyScopes: Scope[]) =>
      (
        await services.apiKeys.create(
          { name: `test ${keyScopes.join("+")}`, scopes: keyScopes },
          systemActor("test"),
        )
      ).secret;
    Object.assign(handle, {
      app,
      services,
      worker,
      pipelineTick,
      windowMetrics,
      refresher,
      store,
      config,
      logs,
      commands,
      key,
      adminKey: await key(["ingest", "read", "admin"]),
      async gql(query: string, variables?: Record<string, unknown>, credential?: string | null) {
        const headers: Record<string, string> = { "content-type": "application/json" };
        const token = credential === undefined ? handle.adminKey : credential;
        if (token) headers.authorization = `Bearer ${token}`;
        const response = await app.fetch("http://localhost/graphql", {
          method: "POST",
          headers,
          body: JSON.stringify({ query, variables }),
        });
        return (await response.json()) as GraphQLResponse;
      },
    });
  });
  afterAll(async () => {
    await handle.pipelineTick?.stop();
    await handle.worker?.stop(5_000);
    await handle.refresher?.stop();
    handle.services?.events.close();
    await handle.store?.db.dropDatabase();
    await handle.store?.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return handle;
}

/** A minimal valid interaction input for tests that only need one to exist. */
export function interactionInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    query: "How do I reset my password?",
    response: "Open Settings, then Security, then Reset password.",
    model: { id: "support-bot", version: "v1" },
    sessionId: "session-1",
    userId: "user-1",
    ...overrides,
  };
}

export const RECORD = /* GraphQL */ `
  mutation Record($input: RecordInteractionInput!, $token: Boolean = false) {
    recordInteraction(input: $input, withFeedbackToken: $token) {
      __typename
      ... on RecordInteractionPayload {
        duplicate
        interaction { id query response userId sessionId createdAt }
        feedbackToken { token expiresAt }
      }
      ... on Error { message code }
      ... on ValidationError { fields { path message } }
    }
  }
`;

/** Records an interaction through the API and returns its global id. */
export async function recordInteraction(
  testApp: TestApp,
  overrides: Record<string, unknown> = {},
  credential?: string,
): Promise<{ id: string; token?: string }> {
  const result = await testApp.gql(
    RECORD,
    { input: interactionInput(overrides), token: true },
    credential,
  );
  const payload = result.data?.recordInteraction;
  if (payload?.__typename !== "RecordInteractionPayload") {
    throw new Error(`recordInteraction failed: ${JSON.stringify(result)}`);
  }
  return { id: payload.interaction.id, token: payload.feedbackToken?.token };
}

/** The mutation and input type of each feedback kind. */
export const SUBMIT_MUTATIONS = {
  binary: ["submitBinaryFeedback", "BinaryFeedbackInput"],
  rating: ["submitRating", "RatingFeedbackInput"],
  correction: ["submitCorrection", "CorrectionFeedbackInput"],
  comparison: ["submitComparison", "ComparisonFeedbackInput"],
  comment: ["submitComment", "CommentFeedbackInput"],
  implicit: ["submitImplicitSignal", "ImplicitFeedbackInput"],
  flag: ["submitFlag", "FlagFeedbackInput"],
} as const;
export type FeedbackKindName = keyof typeof SUBMIT_MUTATIONS;

/** How many documents each collection holds: "bad input changes nothing" compares these. */
export async function storedCounts(testApp: TestApp): Promise<Record<keyof Collections, number>> {
  const entries = await Promise.all(
    Object.entries(testApp.store.collections).map(
      async ([name, collection]) => [name, await collection.countDocuments()] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<keyof Collections, number>;
}
