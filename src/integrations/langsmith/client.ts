/**
 * LangSmith through the official `langsmith` SDK (pinned 0.12.0), narrowed to what Loopgate
 * needs: push feedback onto a run (idempotently, by our feedback id), read feedback back, find
 * projects, page runs of a project and time window (v2 query, resumable by cursor), push dataset
 * examples, and mirror feedback configs.
 *
 * Every request goes through the shared HTTP client's fetch (breaker, timeout, metrics,
 * `Retry-After`); the SDK keeps its own retry loop. An open circuit is refused here, before the
 * SDK would spend its retries on it.
 */
import { Client } from "langsmith";
import {
  CircuitOpenError,
  createHttpClient,
  type HttpClient,
  type HttpClientOptions,
} from "../http.js";

export type LangSmithSourceType = "api" | "app" | "model";

export interface LangSmithFeedbackInput {
  /** Loopgate's feedback id (a UUID): the idempotency key on LangSmith's side. */
  feedbackId: string;
  runId: string;
  /** The run's project (session) id: required for run-level feedback. */
  projectId: string;
  /** The run's start time; LangSmith finds the run faster with it. */
  runStartTime?: string;
  key: string;
  score?: number | boolean | null;
  /** LangSmith stores a string or an object here (not a bare number). */
  value?: string | Record<string, unknown> | null;
  comment?: string | null;
  correction?: Record<string, unknown> | null;
  sourceInfo?: Record<string, unknown>;
  sourceType?: LangSmithSourceType;
}

export interface LangSmithFeedback {
  id: string;
  run_id: string | null;
  session_id?: string | null;
  key: string;
  score: number | boolean | null;
  value: unknown;
  comment: string | null;
  correction: unknown;
  feedback_source: {
    type?: string;
    metadata?: Record<string, unknown>;
    user_id?: string | null;
  } | null;
  created_at: string;
  modified_at: string;
}

export interface LangSmithRun {
  id: string;
  name?: string;
  run_type?: string;
  status?: string;
  start_time?: string;
  end_time?: string | null;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown> | null;
  error?: string | null;
  extra?: Record<string, unknown>;
  tags?: string[];
  project_id?: string;
  trace_id?: string;
  total_tokens?: number;
}

export interface LangSmithExampleInput {
  /** A stable UUID per item, so a repeated push is recognised. */
  id: string;
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  /** The dataset split(s) it belongs to (LangSmith keeps them in `metadata.dataset_split`). */
  split?: string | string[];
}

/** Examples one upload or one id lookup carries: the API's page size for example listings. */
export const EXAMPLE_BATCH = 100;

export type LangSmithFeedbackConfig =
  | { type: "continuous"; min?: number | null; max?: number | null }
  | { type: "categorical"; categories: { value: number; label?: string | null }[] }
  | { type: "freeform" };

/** A refused or failed LangSmith call, with the status when the service answered. */
export class LangSmithApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "LangSmithApiError";
  }
  /** Worth trying again later: no answer, rate limited or a server-side failure. */
  get transient(): boolean {
    return (
      this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500
    );
  }
}

export interface LangSmithAdapterOptions
  extends Omit<HttpClientOptions, "integration" | "baseUrl" | "headers" | "errorFactory"> {
  /** e.g. https://api.smith.langchain.com, https://eu.api.smith.langchain.com or a self-hosted URL. */
  apiUrl: string;
  apiKey: string;
  /** Needed for organisation-scoped keys (sent as `x-tenant-id`). */
  workspaceId?: string;
  /** Feedback upgrades a trace to extended (400-day, billed) retention unless this is false. */
  extendTraceRetention?: boolean;
}

export interface LangSmithAdapter {
  readonly http: HttpClient;
  /** Creates the feedback, or brings it up to date when that id exists already. */
  pushFeedback(input: LangSmithFeedbackInput): Promise<{ created: boolean }>;
  listFeedback(filter: {
    runIds?: string[];
    keys?: string[];
    sourceTypes?: LangSmithSourceType[];
  }): AsyncGenerator<LangSmithFeedback>;
  findProject(name: string): Promise<{ id: string; name: string } | undefined>;
  /** One page of a project's runs in a time window; pass `cursor` back to resume. */
  queryRuns(query: {
    projectId: string;
    from: Date;
    to: Date;
    rootOnly?: boolean;
    cursor?: string;
    pageSize?: number;
  }): Promise<{ runs: LangSmithRun[]; nextCursor: string | undefined }>;
  /** Finds the dataset by name or creates it (with the description and metadata given). */
  ensureDataset(
    name: string,
    description?: string,
    metadata?: Record<string, unknown>,
  ): Promise<{ id: string; name: string }>;
  /** Adds examples not yet in the dataset (known ids are skipped); returns how many were added. */
  pushExamples(datasetId: string, examples: readonly LangSmithExampleInput[]): Promise<number>;
  /**
   * One batch (at most EXAMPLE_BATCH) of examples: those whose ids the dataset lacks are
   * uploaded; returns the ids this call added. Safe to repeat: ids it finds are skipped, and an
   * upload the service stored although its answer was lost (409 on the SDK's retry) is confirmed
   * by reading the ids back. `beforeUpload` runs with the ids about to be sent.
   */
  addExamples(
    datasetId: string,
    examples: readonly LangSmithExampleInput[],
    hooks?: { beforeUpload?: (ids: string[]) => Promise<void> },
  ): Promise<string[]>;
  listExampleIds(datasetId: string): Promise<Set<string>>;
  ensureFeedbackConfig(
    key: string,
    config: LangSmithFeedbackConfig,
    isLowerScoreBetter?: boolean,
  ): Promise<void>;
  listFeedbackConfigs(): Promise<
    { key: string; config: LangSmithFeedbackConfig; isLowerScoreBetter: boolean | null }[]
  >;
}

const RUN_SELECTS = [
  "ID",
  "NAME",
  "RUN_TYPE",
  "STATUS",
  "START_TIME",
  "END_TIME",
  "INPUTS",
  "OUTPUTS",
  "ERROR",
  "EXTRA",
  "TAGS",
  "PROJECT_ID",
  "TRACE_ID",
  "TOTAL_TOKENS",
] as const;

function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  if (typeof status === "number") return status;
  const match = /Received status \[(\d{3})\]/.exec((error as { message?: string }).message ?? "");
  return match ? Number(match[1]) : undefined;
}

export function createLangSmithAdapter(options: LangSmithAdapterOptions): LangSmithAdapter {
  const { apiUrl, apiKey, workspaceId, extendTraceRetention = false, ...rest } = options;
  const http = createHttpClient({ ...rest, integration: "langsmith", baseUrl: apiUrl });
  const client = new Client({
    apiUrl,
    apiKey,
    ...(workspaceId ? { workspaceId } : {}),
    // Synchronous calls only: nothing queued in the background that a crash could lose.
    autoBatchTracing: false,
    fetchImplementation: http.asFetch(),
    timeout_ms: options.timeoutMs ?? 10_000,
  });

  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (http.circuitState() === "open")
      throw new CircuitOpenError("langsmith", options.breaker?.halfOpenAfterMs ?? 30_000);
    try {
      return await fn();
    } catch (error) {
      if (error instanceof CircuitOpenError || error instanceof LangSmithApiError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new LangSmithApiError(`LangSmith ${what} failed: ${message}`, statusOf(error), {
        cause: error,
      });
    }
  }

  return {
    http,
    pushFeedback: (input) =>
      call("push feedback", async () => {
        try {
          await client.createFeedback({
            feedbackId: input.feedbackId,
            runId: input.runId,
            sessionId: input.projectId,
            key: input.key,
            ...(input.runStartTime ? { startTime: input.runStartTime } : {}),
            ...(input.score !== undefined ? { score: input.score } : {}),
            ...(input.value !== undefined ? { value: input.value } : {}),
            ...(input.comment != null ? { comment: input.comment } : {}),
            ...(input.correction != null ? { correction: input.correction } : {}),
            sourceInfo: { ...input.sourceInfo, loopgate_feedback_id: input.feedbackId },
            feedbackSourceType: input.sourceType ?? "api",
            extendTraceRetention,
          });
          return { created: true };
        } catch (error) {
          // A replayed push after a lost answer: the id exists, so converge instead of duplicating.
          if (statusOf(error) !== 409) throw error;
          await client.updateFeedback(input.feedbackId, {
            score: input.score ?? null,
            value: input.value ?? null,
            comment: input.comment ?? null,
            correction: input.correction ?? null,
          });
          return { created: false };
        }
      }),
    async *listFeedback(filter) {
      const runIds = filter.runIds ?? [undefined];
      // Keep URLs short: at most 50 run ids per listing.
      for (let start = 0; start < runIds.length; start += 50) {
        const chunk = runIds
          .slice(start, start + 50)
          .filter((id): id is string => id !== undefined);
        const iterator = client
          .listFeedback({
            ...(chunk.length > 0 ? { runIds: chunk } : {}),
            ...(filter.keys ? { feedbackKeys: filter.keys } : {}),
            ...(filter.sourceTypes ? { feedbackSourceTypes: filter.sourceTypes } : {}),
          })
          [Symbol.asyncIterator]();
        for (;;) {
          const next = await call("list feedback", () => iterator.next());
          if (next.done) break;
          yield next.value as unknown as LangSmithFeedback;
        }
      }
    },
    findProject: (name) =>
      call("find project", async () => {
        try {
          const project = await client.readProject({ projectName: name });
          return { id: project.id, name: project.name ?? name };
        } catch (error) {
          if (statusOf(error) === 404 || /not found/.test(String((error as Error).message)))
            return undefined;
          throw error;
        }
      }),
    queryRuns: (query) =>
      call("query runs", async () => {
        const page = await client.runs.query({
          project_ids: [query.projectId],
          min_start_time: query.from.toISOString(),
          max_start_time: query.to.toISOString(),
          selects: [...RUN_SELECTS],
          ...(query.rootOnly === false ? {} : { is_root: true }),
          ...(query.cursor ? { cursor: query.cursor } : {}),
          page_size: query.pageSize ?? 100,
        });
        return {
          runs: page.items as unknown as LangSmithRun[],
          nextCursor: page.next_cursor ? page.next_cursor : undefined,
        };
      }),
    ensureDataset: (name, description, metadata) =>
      call("ensure dataset", async () => {
        try {
          const found = await client.readDataset({ datasetName: name });
          return { id: found.id, name: found.name };
        } catch (error) {
          if (statusOf(error) !== 404 && !/not found/.test(String((error as Error).message)))
            throw error;
        }
        try {
          const created = await client.createDataset(name, {
            ...(description ? { description } : {}),
            ...(metadata ? { metadata } : {}),
            dataType: "kv",
          });
          return { id: created.id, name: created.name };
        } catch (error) {
          // Created concurrently (or our earlier create's answer was lost): read it back.
          if (statusOf(error) !== 409) throw error;
          const found = await client.readDataset({ datasetName: name });
          return { id: found.id, name: found.name };
        }
      }),
    async listExampleIds(datasetId) {
      const ids = new Set<string>();
      const iterator = client.listExamples({ datasetId })[Symbol.asyncIterator]();
      for (;;) {
        const next = await call("list examples", () => iterator.next());
        if (next.done) return ids;
        ids.add(next.value.id);
      }
    },
    async pushExamples(datasetId, examples) {
      let added = 0;
      for (let start = 0; start < examples.length; start += EXAMPLE_BATCH)
        added += (await this.addExamples(datasetId, examples.slice(start, start + EXAMPLE_BATCH)))
          .length;
      return added;
    },
    async addExamples(datasetId, examples, hooks = {}) {
      if (examples.length > EXAMPLE_BATCH)
        throw new RangeError(`at most ${EXAMPLE_BATCH} examples per batch`);
      if (examples.length === 0) return [];
      const present = async (ids: readonly string[]) => {
        const found = new Set<string>();
        // `limit` = the number of ids: one page, no second request for an empty one.
        const iterator = client
          .listExamples({ datasetId, exampleIds: [...ids], limit: ids.length })
          [Symbol.asyncIterator]();
        for (;;) {
          const next = await call("list examples", () => iterator.next());
          if (next.done) return found;
          found.add(next.value.id);
        }
      };
      const known = await present(examples.map((example) => example.id));
      const fresh = examples.filter((example) => !known.has(example.id));
      if (fresh.length === 0) return [];
      await hooks.beforeUpload?.(fresh.map((example) => example.id));
      const uploads = fresh.map((example) => ({
        id: example.id,
        dataset_id: datasetId,
        inputs: example.inputs,
        ...(example.outputs ? { outputs: example.outputs } : {}),
        ...(example.metadata ? { metadata: example.metadata } : {}),
        ...(example.split ? { split: example.split } : {}),
      }));
      try {
        // Not createExamples: it reads every created example back with one GET each.
        await call("upload examples", () => client.uploadExamplesMultipart(datasetId, uploads));
      } catch (error) {
        if (!(error instanceof LangSmithApiError) || error.status !== 409) throw error;
        // The SDK retried an upload whose first answer was lost after it was stored: converge.
        const stored = await present(fresh.map((example) => example.id));
        const missing = uploads.filter((upload) => !stored.has(upload.id));
        if (missing.length > 0)
          await call("upload examples", () => client.uploadExamplesMultipart(datasetId, missing));
      }
      return fresh.map((example) => example.id);
    },
    ensureFeedbackConfig: (key, config, isLowerScoreBetter) =>
      call("ensure feedback config", async () => {
        await client.createFeedbackConfig({
          feedbackKey: key,
          feedbackConfig: config,
          ...(isLowerScoreBetter === undefined ? {} : { isLowerScoreBetter }),
        });
      }),
    async listFeedbackConfigs() {
      const configs: {
        key: string;
        config: LangSmithFeedbackConfig;
        isLowerScoreBetter: boolean | null;
      }[] = [];
      const iterator = client.listFeedbackConfigs();
      for (;;) {
        const next = await call("list feedback configs", () => iterator.next());
        if (next.done) return configs;
        configs.push({
          key: next.value.feedback_key,
          config: next.value.feedback_config as LangSmithFeedbackConfig,
          isLowerScoreBetter: next.value.is_lower_score_better ?? null,
        });
      }
    },
  };
}
