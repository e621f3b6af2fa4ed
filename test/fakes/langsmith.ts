/**
 * Fake LangSmith API for tests, driven through the official `langsmith` SDK (0.12.0).
 *
 * Follows the LangSmith platform OpenAPI as published at docs.langchain.com/langsmith/smith-api
 * (host https://api.smith.langchain.com, header `X-Api-Key`, v1 routes served both at `/` and
 * under `/api/v1`, v2 run queries at `/api/v2/runs/query` with `{items, next_cursor}` and only
 * `id` unless `selects` are given), the schemas the SDK documents (`FeedbackCreate`: `id`, `key`
 * and `feedback_source` required, `score` a strict number or boolean, `value` a string or object;
 * feedback configs that upsert and answer 400 on a conflicting config), and the SDK's own wire
 * behaviour read from its source: `GET /info` flags, offset paging (`offset`/`limit`, arrays),
 * multipart example upload to `/v1/platform/datasets/{id}/examples` (one JSON part per example
 * named by its UUID with `created_at`, `metadata`, `split`, …, and `<id>.inputs` / `<id>.outputs`
 * parts; an id that exists answers 409 and nothing of the upload is stored), example listings
 * filtered by `dataset`, repeated `id` and `splits` (splits kept as the service keeps them, in
 * `metadata.dataset_split`, "base" when none is given), and `GET /examples/{id}`. FastAPI error
 * bodies: `{"detail": …}`. Notes:
 * /work/shared/reference/langsmith.md.
 *
 * Deliberately stricter than the real service: unknown body fields are refused (422) and
 * run-level feedback without `session_id` is refused, as a SmithDB-only deployment does.
 */
import { randomUUID } from "node:crypto";
import {
  FakeHttpError,
  type FakeRequest,
  type FakeServer,
  readJson,
  startFakeServer,
} from "./server.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface LsmProject {
  id: string;
  name: string;
  tenant_id: string;
  start_time: string;
}
export interface LsmRun {
  id: string;
  name: string;
  run_type: string;
  status: string;
  start_time: string;
  end_time: string | null;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown> | null;
  error: string | null;
  extra: Record<string, unknown>;
  tags: string[];
  session_id: string;
  trace_id: string;
  parent_run_ids: string[];
  total_tokens: number;
}
export interface LsmFeedback {
  id: string;
  run_id: string | null;
  session_id: string | null;
  trace_id: string | null;
  key: string;
  score: number | boolean | null;
  value: string | Record<string, unknown> | null;
  comment: string | null;
  correction: string | Record<string, unknown> | null;
  feedback_source: { type: string; metadata: Record<string, unknown>; user_id: string | null };
  created_at: string;
  modified_at: string;
}
export interface LsmDataset {
  id: string;
  name: string;
  description: string | null;
  data_type: string;
  created_at: string;
  modified_at: string;
  example_count: number;
  tenant_id: string;
}
export interface LsmExample {
  id: string;
  dataset_id: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  created_at: string;
  modified_at: string;
}
export interface LsmFeedbackConfig {
  feedback_key: string;
  feedback_config: Record<string, unknown>;
  tenant_id: string;
  modified_at: string;
  is_lower_score_better: boolean | null;
}

export interface FakeLangSmith {
  readonly url: string;
  readonly server: FakeServer;
  readonly apiKey: string;
  readonly state: {
    projects: Map<string, LsmProject>;
    runs: Map<string, LsmRun>;
    feedback: Map<string, LsmFeedback>;
    datasets: Map<string, LsmDataset>;
    examples: Map<string, LsmExample>;
    feedbackConfigs: Map<string, LsmFeedbackConfig>;
    /** Raw bodies of every feedback create, as sent (for wire-level assertions). */
    feedbackBodies: Record<string, unknown>[];
  };
  addProject(name: string): LsmProject;
  addRun(project: LsmProject, run: Partial<LsmRun> & { start_time: string }): LsmRun;
  /** Feedback made inside LangSmith (annotation queue, online evaluator). */
  addFeedback(
    feedback: Partial<LsmFeedback> & {
      run_id: string;
      key: string;
      feedback_source: LsmFeedback["feedback_source"];
    },
  ): LsmFeedback;
  close(): Promise<void>;
}

export async function startFakeLangSmith(
  options: { apiKey?: string } = {},
): Promise<FakeLangSmith> {
  const apiKey = options.apiKey ?? `lsv2_pt_${randomUUID().replaceAll("-", "")}`;
  const tenantId = randomUUID();
  const state: FakeLangSmith["state"] = {
    projects: new Map(),
    runs: new Map(),
    feedback: new Map(),
    datasets: new Map(),
    examples: new Map(),
    feedbackConfigs: new Map(),
    feedbackBodies: [],
  };
  const iso = () => new Date().toISOString();
  const detail = (status: number, message: unknown) =>
    new FakeHttpError(status, { detail: message });
  const unprocessable = (loc: (string | number)[], msg: string) =>
    detail(422, [{ loc, msg, type: "value_error" }]);

  function json(request: FakeRequest): Record<string, unknown> {
    const body = readJson(request, (msg) => unprocessable(["body"], msg));
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw unprocessable(["body"], "Input should be a valid dictionary");
    return body as Record<string, unknown>;
  }
  function only(body: Record<string, unknown>, allowed: string[]): void {
    for (const key of Object.keys(body))
      if (!allowed.includes(key))
        throw unprocessable(["body", key], "Extra inputs are not permitted");
  }
  function uuidField(body: Record<string, unknown>, key: string, required: boolean): string | null {
    const value = body[key];
    if (value === undefined || value === null) {
      if (required) throw unprocessable(["body", key], "Field required");
      return null;
    }
    if (typeof value !== "string" || !UUID.test(value))
      throw unprocessable(["body", key], "Input should be a valid UUID");
    return value;
  }
  function page<T>(items: T[], query: URLSearchParams): T[] {
    const offset = Number(query.get("offset") ?? 0);
    const limit = Number(query.get("limit") ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw unprocessable(["query", "limit"], "Input should be less than or equal to 100");
    return items.slice(offset, offset + limit);
  }
  const selectable = new Map<string, keyof LsmRun>([
    ["ID", "id"],
    ["NAME", "name"],
    ["RUN_TYPE", "run_type"],
    ["STATUS", "status"],
    ["START_TIME", "start_time"],
    ["END_TIME", "end_time"],
    ["INPUTS", "inputs"],
    ["OUTPUTS", "outputs"],
    ["ERROR", "error"],
    ["EXTRA", "extra"],
    ["TAGS", "tags"],
    ["PROJECT_ID", "session_id"],
    ["TRACE_ID", "trace_id"],
    ["PARENT_RUN_IDS", "parent_run_ids"],
    ["TOTAL_TOKENS", "total_tokens"],
  ]);

  type Route = {
    method: string;
    pattern: RegExp;
    run: (request: FakeRequest, params: string[]) => unknown;
  };
  const ok = (status: number, body?: unknown) => ({ status, body });
  const routes: Route[] = [
    {
      method: "GET",
      pattern: /^\/info$/,
      run: () =>
        ok(200, {
          version: "0.16.0",
          instance_flags: { dataset_examples_multipart_enabled: true, ch_query_enabled: true },
          batch_ingest_config: { use_multipart_endpoint: false },
        }),
    },
    {
      method: "GET",
      pattern: /^\/sessions$/,
      run: (request) => {
        const name = request.query.get("name");
        return ok(
          200,
          page(
            [...state.projects.values()].filter((p) => name === null || p.name === name),
            request.query,
          ),
        );
      },
    },
    {
      method: "GET",
      pattern: /^\/sessions\/([^/]+)$/,
      run: (_r, [id]) => {
        const project = state.projects.get(id!);
        if (!project) throw detail(404, "Session not found");
        return ok(200, project);
      },
    },
    {
      method: "POST",
      pattern: /^\/feedback$/,
      run: (request) => {
        const body = json(request);
        state.feedbackBodies.push(body);
        only(body, [
          "id",
          "run_id",
          "trace_id",
          "key",
          "score",
          "value",
          "correction",
          "comment",
          "feedback_source",
          "comparative_experiment_id",
          "feedbackConfig",
          "feedback_config",
          "session_id",
          "start_time",
          "extend_trace_retention",
          "created_at",
          "modified_at",
          "feedback_group_id",
          "extra",
        ]);
        const id = uuidField(body, "id", true)!;
        const runId = uuidField(body, "run_id", false);
        const sessionId = uuidField(body, "session_id", false);
        if (typeof body.key !== "string" || body.key.length === 0 || body.key.length > 180)
          throw unprocessable(["body", "key"], "String should have 1 to 180 characters");
        if (
          body.score !== undefined &&
          body.score !== null &&
          typeof body.score !== "number" &&
          typeof body.score !== "boolean"
        )
          throw unprocessable(["body", "score"], "Input should be a valid number");
        if (
          body.value !== undefined &&
          body.value !== null &&
          typeof body.value !== "string" &&
          (typeof body.value !== "object" || Array.isArray(body.value))
        )
          throw unprocessable(["body", "value"], "Input should be a valid dictionary or string");
        const source = body.feedback_source as { type?: unknown; metadata?: unknown } | undefined;
        if (!source || !["api", "app", "model", "auto_eval"].includes(String(source.type)))
          throw unprocessable(["body", "feedback_source"], "Field required");
        if (runId && !sessionId) throw detail(400, "session_id is required for run-level feedback");
        if (sessionId && !state.projects.has(sessionId)) throw detail(404, "Session not found");
        if (state.feedback.has(id)) throw detail(409, `Feedback with id ${id} already exists`);
        const at = iso();
        const feedback: LsmFeedback = {
          id,
          run_id: runId,
          session_id: sessionId,
          trace_id: uuidField(body, "trace_id", false),
          key: body.key,
          score: (body.score as number | boolean | undefined) ?? null,
          value: (body.value as LsmFeedback["value"] | undefined) ?? null,
          comment: (body.comment as string | undefined) ?? null,
          correction: (body.correction as LsmFeedback["correction"] | undefined) ?? null,
          feedback_source: {
            type: String(source.type),
            metadata: (source.metadata as Record<string, unknown>) ?? {},
            user_id: null,
          },
          created_at: at,
          modified_at: at,
        };
        state.feedback.set(id, feedback);
        return ok(200, feedback);
      },
    },
    {
      method: "GET",
      pattern: /^\/feedback$/,
      run: (request) => {
        const runs = request.query.getAll("run");
        const keys = request.query.getAll("key");
        const sources = request.query.getAll("source");
        const items = [...state.feedback.values()].filter(
          (f) =>
            (runs.length === 0 || (f.run_id !== null && runs.includes(f.run_id))) &&
            (keys.length === 0 || keys.includes(f.key)) &&
            (sources.length === 0 || sources.includes(f.feedback_source.type)),
        );
        return ok(200, page(items, request.query));
      },
    },
    {
      method: "GET",
      pattern: /^\/feedback\/([^/]+)$/,
      run: (_r, [id]) => {
        const feedback = state.feedback.get(id!);
        if (!feedback) throw detail(404, "Feedback not found");
        return ok(200, feedback);
      },
    },
    {
      method: "PATCH",
      pattern: /^\/feedback\/([^/]+)$/,
      run: (request, [id]) => {
        const feedback = state.feedback.get(id!);
        if (!feedback) throw detail(404, "Feedback not found");
        const body = json(request);
        only(body, ["score", "value", "correction", "comment"]);
        Object.assign(feedback, body, { modified_at: iso() });
        return ok(200, feedback);
      },
    },
    {
      method: "POST",
      pattern: /^\/feedback-configs$/,
      run: (request) => {
        const body = json(request);
        only(body, ["feedback_key", "feedback_config", "is_lower_score_better", "is_enforced"]);
        if (typeof body.feedback_key !== "string")
          throw unprocessable(["body", "feedback_key"], "Field required");
        const config = body.feedback_config as { type?: unknown } | undefined;
        if (!config || !["continuous", "categorical", "freeform"].includes(String(config.type)))
          throw unprocessable(
            ["body", "feedback_config", "type"],
            "Input should be 'continuous', 'categorical' or 'freeform'",
          );
        const existing = state.feedbackConfigs.get(body.feedback_key);
        if (existing) {
          if (JSON.stringify(existing.feedback_config) !== JSON.stringify(config))
            throw detail(400, `Conflicting feedback config for key ${body.feedback_key}`);
          return ok(200, existing);
        }
        const created: LsmFeedbackConfig = {
          feedback_key: body.feedback_key,
          feedback_config: config as Record<string, unknown>,
          tenant_id: tenantId,
          modified_at: iso(),
          is_lower_score_better: (body.is_lower_score_better as boolean | undefined) ?? null,
        };
        state.feedbackConfigs.set(created.feedback_key, created);
        return ok(200, created);
      },
    },
    {
      method: "GET",
      pattern: /^\/feedback-configs$/,
      run: (request) => {
        const keys = request.query.getAll("key");
        return ok(
          200,
          page(
            [...state.feedbackConfigs.values()].filter(
              (c) => keys.length === 0 || keys.includes(c.feedback_key),
            ),
            request.query,
          ),
        );
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v2\/runs\/query$/,
      run: (request) => {
        const body = json(request);
        only(body, [
          "project_ids",
          "reference_dataset_id",
          "min_start_time",
          "max_start_time",
          "selects",
          "is_root",
          "cursor",
          "page_size",
          "run_type",
          "trace_id",
          "filter",
          "trace_filter",
          "tree_filter",
          "ids",
          "has_error",
          "reference_examples",
        ]);
        if (
          body.filter !== undefined ||
          body.trace_filter !== undefined ||
          body.tree_filter !== undefined
        )
          throw detail(422, "filter expressions are not supported by this fake");
        const projectIds = body.project_ids as string[] | undefined;
        if (!Array.isArray(projectIds) || projectIds.length === 0)
          throw detail(422, "project_ids or reference_dataset_id is required");
        const selects = (body.selects ?? ["ID"]) as string[];
        for (const select of selects)
          if (!selectable.has(select))
            throw unprocessable(["body", "selects"], `Unsupported select ${select}`);
        const min = Date.parse(
          String(body.min_start_time ?? new Date(Date.now() - 86_400_000).toISOString()),
        );
        const max = Date.parse(String(body.max_start_time ?? new Date().toISOString()));
        const limit = Number(body.page_size ?? 100);
        const runs = [...state.runs.values()]
          .filter((run) => projectIds.includes(run.session_id))
          .filter((run) => Date.parse(run.start_time) >= min && Date.parse(run.start_time) <= max)
          .filter((run) => body.is_root !== true || run.parent_run_ids.length === 0)
          .sort((a, b) => a.start_time.localeCompare(b.start_time) || a.id.localeCompare(b.id));
        const offset = body.cursor
          ? Number(Buffer.from(String(body.cursor), "base64url").toString())
          : 0;
        const slice = runs.slice(offset, offset + limit);
        const next =
          offset + limit < runs.length
            ? Buffer.from(String(offset + limit)).toString("base64url")
            : "";
        const fields = new Set(["ID", ...selects]);
        return ok(200, {
          items: slice.map((run) =>
            Object.fromEntries(
              [...fields].map((f) => [
                selectable.get(f) === "session_id" ? "project_id" : selectable.get(f)!,
                run[selectable.get(f)!],
              ]),
            ),
          ),
          next_cursor: next,
        });
      },
    },
    {
      method: "POST",
      pattern: /^\/datasets$/,
      run: (request) => {
        const body = json(request);
        only(body, [
          "name",
          "description",
          "extra",
          "data_type",
          "inputs_schema_definition",
          "outputs_schema_definition",
          "tag_value_ids",
        ]);
        if (typeof body.name !== "string" || body.name.length === 0)
          throw unprocessable(["body", "name"], "Field required");
        if ([...state.datasets.values()].some((d) => d.name === body.name))
          throw detail(409, "Dataset with this name already exists.");
        const at = iso();
        const dataset: LsmDataset = {
          id: randomUUID(),
          name: body.name,
          description: (body.description as string | undefined) ?? null,
          data_type: String(body.data_type ?? "kv"),
          created_at: at,
          modified_at: at,
          example_count: 0,
          tenant_id: tenantId,
        };
        state.datasets.set(dataset.id, dataset);
        return ok(200, dataset);
      },
    },
    {
      method: "GET",
      pattern: /^\/datasets$/,
      run: (request) => {
        const name = request.query.get("name");
        return ok(
          200,
          page(
            [...state.datasets.values()].filter((d) => name === null || d.name === name),
            request.query,
          ),
        );
      },
    },
    {
      method: "GET",
      pattern: /^\/datasets\/([^/]+)$/,
      run: (_r, [id]) => {
        const dataset = state.datasets.get(id!);
        if (!dataset) throw detail(404, "Dataset not found");
        return ok(200, dataset);
      },
    },
    {
      method: "POST",
      // `/v1/platform/…` at the root, `/api/v1/platform/…` when the SDK's apiUrl ends in /api/v1.
      pattern: /^\/(?:v1\/)?platform\/datasets\/([^/]+)\/examples$/,
      run: async (request, [id]) => {
        const dataset = state.datasets.get(id!);
        if (!dataset) throw detail(404, "Dataset not found");
        const type = request.headers["content-type"] ?? "";
        if (!type.startsWith("multipart/form-data"))
          throw detail(422, "Expected multipart/form-data");
        const form = await new Response(new Uint8Array(request.raw), {
          headers: { "content-type": type },
        }).formData();
        const parts = new Map<string, unknown>();
        for (const [name, value] of form.entries()) {
          const text = typeof value === "string" ? value : await value.text();
          parts.set(name, JSON.parse(text));
        }
        const ids = [...parts.keys()].filter((name) => !name.includes("."));
        for (const exampleId of ids) {
          if (!UUID.test(exampleId))
            throw unprocessable(["body", exampleId], "Part name must be an example UUID");
          if (state.examples.has(exampleId))
            throw detail(409, `Example ${exampleId} already exists`);
          if (!parts.has(`${exampleId}.inputs`))
            throw unprocessable(["body", `${exampleId}.inputs`], "Field required");
        }
        for (const name of parts.keys()) {
          const [owner, suffix] = name.split(".");
          if (
            !ids.includes(owner!) ||
            (suffix !== undefined && suffix !== "inputs" && suffix !== "outputs")
          )
            throw unprocessable(["body", name], "Unexpected part");
        }
        const at = iso();
        const bodies = new Map<string, { metadata: Record<string, unknown>; split: string[] }>();
        for (const exampleId of ids) {
          const body = parts.get(exampleId);
          if (typeof body !== "object" || body === null || Array.isArray(body))
            throw unprocessable(["body", exampleId], "Input should be a valid dictionary");
          only(body as Record<string, unknown>, [
            "created_at",
            "metadata",
            "split",
            "source_run_id",
            "use_source_run_io",
            "use_source_run_attachments",
          ]);
          const { metadata, split } = body as { metadata?: unknown; split?: unknown };
          if (
            metadata !== undefined &&
            (typeof metadata !== "object" || metadata === null || Array.isArray(metadata))
          )
            throw unprocessable(
              ["body", exampleId, "metadata"],
              "Input should be a valid dictionary",
            );
          const splits = split === undefined ? ["base"] : Array.isArray(split) ? split : [split];
          if (splits.length === 0 || splits.some((name) => typeof name !== "string" || name === ""))
            throw unprocessable(
              ["body", exampleId, "split"],
              "Input should be a string or a list of strings",
            );
          for (const side of ["inputs", "outputs"])
            if (parts.has(`${exampleId}.${side}`)) {
              const value = parts.get(`${exampleId}.${side}`);
              if (typeof value !== "object" || value === null || Array.isArray(value))
                throw unprocessable(
                  ["body", `${exampleId}.${side}`],
                  "Input should be a valid dictionary",
                );
            }
          bodies.set(exampleId, {
            metadata: (metadata as Record<string, unknown> | undefined) ?? {},
            split: splits as string[],
          });
        }
        for (const exampleId of ids) {
          const { metadata, split } = bodies.get(exampleId)!;
          state.examples.set(exampleId, {
            id: exampleId,
            dataset_id: dataset.id,
            inputs: parts.get(`${exampleId}.inputs`) as Record<string, unknown>,
            outputs:
              (parts.get(`${exampleId}.outputs`) as Record<string, unknown> | undefined) ?? null,
            metadata: { ...metadata, dataset_split: split },
            created_at: at,
            modified_at: at,
          });
        }
        dataset.example_count += ids.length;
        return ok(201, { count: ids.length, example_ids: ids });
      },
    },
    {
      method: "GET",
      pattern: /^\/examples\/([^/]+)$/,
      run: (_r, [id]) => {
        const example = state.examples.get(id!);
        if (!example) throw detail(404, "Example not found");
        return ok(200, example);
      },
    },
    {
      method: "GET",
      pattern: /^\/examples$/,
      run: (request) => {
        const dataset = request.query.get("dataset");
        const ids = request.query.getAll("id");
        const splits = request.query.getAll("splits");
        for (const id of ids)
          if (!UUID.test(id)) throw unprocessable(["query", "id"], "Input should be a valid UUID");
        if (dataset !== null && !state.datasets.has(dataset))
          throw detail(404, "Dataset not found");
        return ok(
          200,
          page(
            [...state.examples.values()].filter(
              (e) =>
                (dataset === null || e.dataset_id === dataset) &&
                (ids.length === 0 || ids.includes(e.id)) &&
                (splits.length === 0 ||
                  ((e.metadata?.dataset_split as string[] | undefined) ?? []).some((split) =>
                    splits.includes(split),
                  )),
            ),
            request.query,
          ),
        );
      },
    },
  ];

  const server = await startFakeServer({
    errorBody: (_status, message) => ({ detail: message }),
    handle: async (request) => {
      // v1 routes answer at the root and under /api/v1, as api.smith.langchain.com does.
      const path = request.path.startsWith("/api/v1/")
        ? request.path.slice("/api/v1".length)
        : request.path;
      const matching = routes.filter((route) => route.pattern.test(path));
      if (matching.length === 0) throw detail(404, "Not Found");
      const route = matching.find((candidate) => candidate.method === request.method);
      if (!route) throw detail(405, "Method Not Allowed");
      if (request.headers["x-api-key"] !== apiKey) throw detail(401, "Unauthorized");
      return (await route.run(request, route.pattern.exec(path)!.slice(1))) as {
        status: number;
        body: unknown;
      };
    },
  });

  return {
    url: server.url,
    server,
    apiKey,
    state,
    addProject(name) {
      const project = { id: randomUUID(), name, tenant_id: tenantId, start_time: iso() };
      state.projects.set(project.id, project);
      return project;
    },
    addRun(project, run) {
      const id = run.id ?? randomUUID();
      const doc: LsmRun = {
        id,
        name: "ChatModel",
        run_type: "llm",
        status: "success",
        end_time: null,
        inputs: {},
        outputs: null,
        error: null,
        extra: {},
        tags: [],
        trace_id: id,
        parent_run_ids: [],
        total_tokens: 0,
        ...run,
        session_id: project.id,
      };
      state.runs.set(id, doc);
      return doc;
    },
    addFeedback(feedback) {
      const at = iso();
      const doc: LsmFeedback = {
        id: randomUUID(),
        session_id: state.runs.get(feedback.run_id)?.session_id ?? null,
        trace_id: null,
        score: null,
        value: null,
        comment: null,
        correction: null,
        created_at: at,
        modified_at: at,
        ...feedback,
      };
      state.feedback.set(doc.id, doc);
      return doc;
    },
    close: () => server.close(),
  };
}
