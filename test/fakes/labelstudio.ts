/**
 * Fake Label Studio server (open source, Django REST Framework) for tests.
 *
 * Follows HumanSignal/label-studio 1.23 and label-studio-sdk 2.1 as published: URL patterns with
 * their significant trailing slashes (`api/projects/`, `api/tasks/{id}/annotations/`, but
 * `api/projects/{id}/import` without one), the custom DRF exception handler's error body
 * (label_studio/core/utils/common.py `custom_exception_handler`: `{id, status_code, version,
 * detail, exc_info}` plus `validation_errors` for 400s), legacy `Authorization: Token <key>` and
 * Personal Access Tokens (JWT refresh tokens exchanged at `POST /api/token/refresh/` for
 * 5-minute access tokens sent as `Bearer`; label_studio/jwt_auth/), task paging that answers 404
 * "Invalid page." past the last page (tasks/api.py; label-studio-sdk#148), and webhooks
 * delivered synchronously with the configured headers, a 1 s timeout, no signature and no retry
 * (webhooks/utils.py `run_webhook`; payloads per docs/source/guide/webhook_reference.md).
 * Notes: /work/shared/reference/labelstudio.md.
 *
 * Deliberately stricter than the real server: DRF serializers ignore unknown body fields; here
 * they are refused (400), and a path missing its trailing slash is a 404 (Django would redirect
 * a GET and fail a POST), so our client cannot depend on either leniency.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import {
  deliver,
  FakeHttpError,
  type FakeRequest,
  type FakeServer,
  readJson,
  startFakeServer,
} from "./server.js";

const VERSION = "1.23.0";
const ACTIONS = [
  "PROJECT_CREATED",
  "PROJECT_UPDATED",
  "PROJECT_DELETED",
  "TASKS_CREATED",
  "TASKS_DELETED",
  "ANNOTATION_CREATED",
  "ANNOTATIONS_CREATED",
  "ANNOTATION_UPDATED",
  "ANNOTATIONS_DELETED",
  "LABEL_LINK_CREATED",
  "LABEL_LINK_UPDATED",
  "LABEL_LINK_DELETED",
];

export interface LsProject {
  id: number;
  title: string;
  description: string;
  label_config: string;
  expert_instruction: string;
  maximum_annotations: number;
  overlap_cohort_percentage: number;
  show_skip_button: boolean;
  enable_empty_annotation: boolean;
  created_at: string;
  task_number: number;
  total_annotations_number: number;
}
export interface LsAnnotation {
  id: number;
  result: unknown[];
  task: number;
  project: number;
  completed_by: number;
  was_cancelled: boolean;
  ground_truth: boolean;
  lead_time: number | null;
  created_at: string;
  updated_at: string;
}
export interface LsPrediction {
  id: number;
  task: number;
  project: number;
  result: unknown[];
  score: number | null;
  model_version: string;
  created_at: string;
}
export interface LsTask {
  id: number;
  project: number;
  data: Record<string, unknown>;
  meta: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}
export interface LsWebhook {
  id: number;
  organization: number;
  project: number;
  url: string;
  send_payload: boolean;
  send_for_all_actions: boolean;
  headers: Record<string, string>;
  is_active: boolean;
  actions: string[];
  created_at: string;
  updated_at: string;
}
export interface LsDelivery {
  webhook: number;
  action: string;
  status: number;
}

export interface FakeLabelStudioOptions {
  /** Legacy token accepted as `Authorization: Token <key>`. */
  legacyToken?: string;
  legacyTokensEnabled?: boolean;
  /** Lifetime of access tokens minted from a Personal Access Token (the real one: 5 min). */
  accessTtlSeconds?: number;
}

export interface FakeLabelStudio {
  readonly url: string;
  readonly server: FakeServer;
  readonly legacyToken: string;
  readonly state: {
    projects: Map<number, LsProject>;
    tasks: Map<number, LsTask>;
    annotations: Map<number, LsAnnotation>;
    predictions: Map<number, LsPrediction>;
    webhooks: Map<number, LsWebhook>;
    deliveries: LsDelivery[];
    refreshes: number;
  };
  /** A Personal Access Token (a JWT refresh token) for the default user. */
  createPersonalAccessToken(): string;
  /** Invalidates every access token issued so far; refresh tokens stay valid. */
  revokeAccessTokens(): void;
  /** An annotator labels a task in the UI: stored, ANNOTATION_CREATED fired. */
  annotate(taskId: number, result: unknown[], userId?: number): Promise<LsAnnotation>;
  updateAnnotation(annotationId: number, result: unknown[]): Promise<LsAnnotation>;
  deleteAnnotation(annotationId: number): Promise<void>;
  dropDeliveries(count: number): void;
  duplicateDeliveries(count: number): void;
  close(): Promise<void>;
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

export async function startFakeLabelStudio(
  options: FakeLabelStudioOptions = {},
): Promise<FakeLabelStudio> {
  const secret = randomBytes(32);
  const legacyToken = options.legacyToken ?? randomBytes(20).toString("hex");
  const accessTtl = options.accessTtlSeconds ?? 300;
  const userId = 1;
  const state: FakeLabelStudio["state"] = {
    projects: new Map(),
    tasks: new Map(),
    annotations: new Map(),
    predictions: new Map(),
    webhooks: new Map(),
    deliveries: [],
    refreshes: 0,
  };
  let nextId = 1;
  // Bumped to revoke every access token minted so far (as if the signing key rotated).
  let accessEpoch = 0;
  let drops = 0;
  let duplicates = 0;
  const iso = () => new Date().toISOString();

  function error(
    status: number,
    detail: string,
    validationErrors?: Record<string, string[]>,
  ): FakeHttpError {
    return new FakeHttpError(status, {
      id: randomUUID(),
      status_code: status,
      version: VERSION,
      detail: validationErrors ? "Validation error" : detail,
      exc_info: null,
      ...(validationErrors ? { validation_errors: validationErrors } : {}),
    });
  }
  const invalid = (errors: Record<string, string[]>) => error(400, "Validation error", errors);

  function jwt(type: "access" | "refresh", ttlSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const head = base64url({ alg: "HS256", typ: "JWT" });
    const body = base64url({
      token_type: type,
      exp: now + ttlSeconds,
      iat: now,
      jti: randomUUID(),
      user_id: userId,
      epoch: type === "access" ? accessEpoch : 0,
    });
    const signature = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
    return `${head}.${body}.${signature}`;
  }
  function readJwt(token: string, type: "access" | "refresh"): boolean {
    const [head, body, signature] = token.split(".");
    if (!head || !body || !signature) return false;
    const expected = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
    if (expected !== signature) return false;
    const claims = JSON.parse(Buffer.from(body, "base64url").toString()) as {
      token_type: string;
      exp: number;
      epoch: number;
    };
    if (type === "access" && claims.epoch !== accessEpoch) return false;
    return claims.token_type === type && claims.exp > Date.now() / 1000;
  }
  function authenticate(request: FakeRequest): void {
    const header = request.headers.authorization;
    if (!header) throw error(401, "Authentication credentials were not provided.");
    const [scheme, token] = header.split(" ");
    if (scheme === "Token") {
      if (options.legacyTokensEnabled === false)
        throw error(401, "Legacy token authentication has been disabled for this organization.");
      if (token !== legacyToken) throw error(401, "Invalid token.");
      return;
    }
    if (scheme === "Bearer" && token && readJwt(token, "access")) return;
    throw error(401, "Given token not valid for any token type");
  }

  function body(request: FakeRequest): Record<string, unknown> {
    const parsed = readJson(request, (message) => error(400, `JSON parse error - ${message}`));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw invalid({ non_field_errors: ["Invalid data. Expected a dictionary, but got list."] });
    return parsed as Record<string, unknown>;
  }
  function only(input: Record<string, unknown>, allowed: string[]): void {
    const unknown = Object.keys(input).filter((key) => !allowed.includes(key));
    if (unknown.length > 0)
      throw invalid(Object.fromEntries(unknown.map((key) => [key, ["Unknown field."]])));
  }
  const project = (id: string | undefined) => {
    const found = state.projects.get(Number(id));
    if (!found) throw error(404, "Not found.");
    return found;
  };
  const task = (id: string | number | undefined) => {
    const found = state.tasks.get(Number(id));
    if (!found) throw error(404, "Not found.");
    return found;
  };
  const variables = (labelConfig: string) =>
    [...labelConfig.matchAll(/value="\$([A-Za-z0-9_]+)"/g)].map((m) => m[1]!);
  function validateConfig(config: unknown): string {
    if (typeof config !== "string" || !/^\s*<View[\s>][\s\S]*<\/View>\s*$/.test(config))
      throw invalid({ label_config: ["Invalid label config: the root tag must be <View>"] });
    if (!/<(Rating|Choices|TextArea|Pairwise|Labels|Ranker)\s/.test(config))
      throw invalid({ label_config: ["Invalid label config: no control tag found"] });
    return config;
  }
  function projectView(p: LsProject) {
    const tasks = [...state.tasks.values()].filter((t) => t.project === p.id);
    const annotations = [...state.annotations.values()].filter((a) => a.project === p.id);
    return { ...p, task_number: tasks.length, total_annotations_number: annotations.length };
  }
  function taskView(t: LsTask, full: boolean) {
    const annotations = [...state.annotations.values()].filter((a) => a.task === t.id);
    const predictions = [...state.predictions.values()].filter((p) => p.task === t.id);
    return {
      ...t,
      total_annotations: annotations.length,
      cancelled_annotations: annotations.filter((a) => a.was_cancelled).length,
      total_predictions: predictions.length,
      is_labeled: annotations.length >= (state.projects.get(t.project)?.maximum_annotations ?? 1),
      ...(full ? { annotations, predictions } : {}),
    };
  }

  const pendingDeliveries = new Set<Promise<void>>();
  async function emit(
    projectId: number,
    action: string,
    payload: Record<string, unknown>,
  ): Promise<void> {
    const p = state.projects.get(projectId);
    for (const hook of state.webhooks.values()) {
      if (hook.project !== projectId || !hook.is_active) continue;
      if (!hook.send_for_all_actions && !hook.actions.includes(action)) continue;
      if (drops > 0) {
        drops -= 1;
        state.deliveries.push({ webhook: hook.id, action, status: -1 });
        continue;
      }
      const data = hook.send_payload
        ? { action, ...payload, project: p ? projectView(p) : null }
        : { action };
      const copies = duplicates > 0 ? 2 : 1;
      if (duplicates > 0) duplicates -= 1;
      for (let i = 0; i < copies; i++) {
        // Sent inside the API request with a 1 s timeout; failures are only logged, never retried.
        const status = await deliver(hook.url, JSON.stringify(data), hook.headers, 1000);
        state.deliveries.push({ webhook: hook.id, action, status });
      }
    }
  }
  async function createAnnotation(
    t: LsTask,
    result: unknown[],
    by: number,
    extra: Record<string, unknown> = {},
  ) {
    const at = iso();
    const annotation: LsAnnotation = {
      id: nextId++,
      result,
      task: t.id,
      project: t.project,
      completed_by: by,
      was_cancelled: extra.was_cancelled === true,
      ground_truth: extra.ground_truth === true,
      lead_time: typeof extra.lead_time === "number" ? extra.lead_time : null,
      created_at: at,
      updated_at: at,
    };
    state.annotations.set(annotation.id, annotation);
    await emit(t.project, "ANNOTATION_CREATED", { annotation, task: taskView(t, false) });
    return annotation;
  }
  function validateResult(result: unknown): unknown[] {
    if (!Array.isArray(result))
      throw invalid({ result: ['Expected a list of items but got type "dict".'] });
    for (const item of result) {
      const r = item as Record<string, unknown>;
      if (
        typeof r !== "object" ||
        r === null ||
        typeof r.from_name !== "string" ||
        typeof r.to_name !== "string" ||
        typeof r.type !== "string" ||
        typeof r.value !== "object"
      )
        throw invalid({ result: ["Each result item needs from_name, to_name, type and value"] });
    }
    return result;
  }

  type Route = {
    method: string;
    pattern: RegExp;
    run: (request: FakeRequest, params: string[]) => unknown;
  };
  const ok = (status: number, payload?: unknown) => ({ status, body: payload });
  const routes: Route[] = [
    {
      method: "GET",
      pattern: /^\/api\/projects\/$/,
      run: (request) => {
        const page = Number(request.query.get("page") ?? 1);
        const size = Math.min(Number(request.query.get("page_size") ?? 30), 1000);
        const all = [...state.projects.values()];
        const results = all.slice((page - 1) * size, page * size);
        if (page > 1 && results.length === 0) throw error(404, "Invalid page.");
        return ok(200, {
          count: all.length,
          next:
            page * size < all.length ? `/api/projects/?page=${page + 1}&page_size=${size}` : null,
          previous: page > 1 ? `/api/projects/?page=${page - 1}&page_size=${size}` : null,
          results: results.map(projectView),
        });
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/projects\/$/,
      run: (request) => {
        const input = body(request);
        only(input, [
          "title",
          "description",
          "label_config",
          "expert_instruction",
          "maximum_annotations",
          "overlap_cohort_percentage",
          "show_skip_button",
          "enable_empty_annotation",
        ]);
        if (typeof input.title !== "string" || input.title.length < 3 || input.title.length > 50)
          throw invalid({
            title: ["Ensure this field has no more than 50 characters and at least 3."],
          });
        const label_config = validateConfig(input.label_config ?? "");
        const p: LsProject = {
          id: nextId++,
          title: input.title,
          description: String(input.description ?? ""),
          label_config,
          expert_instruction: String(input.expert_instruction ?? ""),
          maximum_annotations: Number(input.maximum_annotations ?? 1),
          overlap_cohort_percentage: Number(input.overlap_cohort_percentage ?? 100),
          show_skip_button: input.show_skip_button !== false,
          enable_empty_annotation: input.enable_empty_annotation !== false,
          created_at: iso(),
          task_number: 0,
          total_annotations_number: 0,
        };
        state.projects.set(p.id, p);
        return ok(201, projectView(p));
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/projects\/(\d+)\/$/,
      run: (_r, [id]) => ok(200, projectView(project(id))),
    },
    {
      method: "PATCH",
      pattern: /^\/api\/projects\/(\d+)\/$/,
      run: (request, [id]) => {
        const p = project(id);
        const input = body(request);
        only(input, [
          "title",
          "description",
          "label_config",
          "expert_instruction",
          "maximum_annotations",
          "overlap_cohort_percentage",
          "show_skip_button",
          "enable_empty_annotation",
        ]);
        if (input.label_config !== undefined) validateConfig(input.label_config);
        Object.assign(p, input);
        return ok(200, projectView(p));
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/projects\/(\d+)\/import$/,
      run: async (request, [id]) => {
        const p = project(id);
        const parsed = readJson(request, (message) => error(400, message));
        if (!Array.isArray(parsed))
          throw invalid({ non_field_errors: ["Expected a list of tasks"] });
        const needed = variables(p.label_config);
        const created: LsTask[] = [];
        const staged: {
          data: Record<string, unknown>;
          meta: Record<string, unknown>;
          predictions: unknown[];
        }[] = [];
        parsed.forEach((raw, index) => {
          const item = raw as Record<string, unknown>;
          only(item, ["data", "meta", "predictions", "annotations"]);
          const data = item.data as Record<string, unknown> | undefined;
          if (typeof data !== "object" || data === null)
            throw invalid({ data: [`Task ${index}: "data" is required`] });
          const missing = needed.filter((name) => !(name in data));
          if (missing.length > 0)
            throw invalid({
              non_field_errors: [
                `Task ${index}: data keys ${JSON.stringify(missing)} required by the labeling config are missing`,
              ],
            });
          const predictions = (item.predictions ?? []) as unknown[];
          for (const prediction of predictions) {
            only(prediction as Record<string, unknown>, ["result", "score", "model_version"]);
            validateResult((prediction as { result: unknown }).result);
          }
          staged.push({ data, meta: (item.meta ?? {}) as Record<string, unknown>, predictions });
        });
        let predictionsCount = 0;
        for (const item of staged) {
          const at = iso();
          const t: LsTask = {
            id: nextId++,
            project: p.id,
            data: item.data,
            meta: item.meta,
            created_at: at,
            updated_at: at,
          };
          state.tasks.set(t.id, t);
          created.push(t);
          for (const raw of item.predictions) {
            const prediction = raw as { result: unknown[]; score?: number; model_version?: string };
            const doc: LsPrediction = {
              id: nextId++,
              task: t.id,
              project: p.id,
              result: prediction.result,
              score: prediction.score ?? null,
              model_version: prediction.model_version ?? "undefined",
              created_at: at,
            };
            state.predictions.set(doc.id, doc);
            predictionsCount += 1;
          }
        }
        await emit(p.id, "TASKS_CREATED", { tasks: created.map((t) => taskView(t, false)) });
        return ok(201, {
          task_count: created.length,
          annotation_count: 0,
          predictions_count: predictionsCount,
          duration: 0.01,
          file_upload_ids: [],
          could_be_tasks_list: false,
          found_formats: [],
          data_columns: [],
          ...(request.query.get("return_task_ids") === "true"
            ? { task_ids: created.map((t) => t.id) }
            : {}),
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/tasks\/$/,
      run: (request) => {
        const projectId = request.query.get("project");
        if (projectId === null) throw invalid({ project: ["This field is required."] });
        project(projectId);
        const page = Number(request.query.get("page") ?? 1);
        const size = Math.min(Number(request.query.get("page_size") ?? 100), 1000);
        if (!Number.isInteger(page) || page < 1 || !Number.isInteger(size) || size < 1)
          throw error(404, "Invalid page.");
        const all = [...state.tasks.values()].filter((t) => t.project === Number(projectId));
        const results = all.slice((page - 1) * size, page * size);
        // Django's paginator: any page past the last one is an error, not an empty list.
        if (page > 1 && results.length === 0) throw error(404, "Invalid page.");
        const full = request.query.get("fields") === "all";
        return ok(200, {
          tasks: results.map((t) => taskView(t, full)),
          total: all.length,
          total_annotations: [...state.annotations.values()].filter(
            (a) => a.project === Number(projectId),
          ).length,
          total_predictions: [...state.predictions.values()].filter(
            (p) => p.project === Number(projectId),
          ).length,
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/tasks\/(\d+)\/$/,
      run: (_r, [id]) => ok(200, taskView(task(id), true)),
    },
    {
      method: "GET",
      pattern: /^\/api\/tasks\/(\d+)\/annotations\/$/,
      run: (_r, [id]) =>
        ok(
          200,
          [...state.annotations.values()].filter((a) => a.task === task(id).id),
        ),
    },
    {
      method: "POST",
      pattern: /^\/api\/tasks\/(\d+)\/annotations\/$/,
      run: async (request, [id]) => {
        const t = task(id);
        const input = body(request);
        only(input, ["result", "was_cancelled", "ground_truth", "lead_time", "completed_by"]);
        return ok(
          201,
          await createAnnotation(
            t,
            validateResult(input.result),
            Number(input.completed_by ?? userId),
            input,
          ),
        );
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/annotations\/(\d+)\/$/,
      run: (_r, [id]) => {
        const found = state.annotations.get(Number(id));
        if (!found) throw error(404, "Not found.");
        return ok(200, found);
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/predictions\/$/,
      run: (request) => {
        const input = body(request);
        only(input, ["task", "result", "score", "model_version", "project"]);
        const t = task(input.task as number);
        if (
          input.score !== undefined &&
          (typeof input.score !== "number" || input.score < 0 || input.score > 1)
        )
          throw invalid({ score: ["A valid number between 0 and 1 is required."] });
        const doc: LsPrediction = {
          id: nextId++,
          task: t.id,
          project: t.project,
          result: validateResult(input.result),
          score: (input.score as number | undefined) ?? null,
          model_version: String(input.model_version ?? "undefined"),
          created_at: iso(),
        };
        state.predictions.set(doc.id, doc);
        return ok(201, doc);
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/predictions\/$/,
      run: (request) => {
        const taskId = request.query.get("task");
        const projectId = request.query.get("project");
        return ok(
          200,
          [...state.predictions.values()].filter(
            (p) =>
              (taskId === null || p.task === Number(taskId)) &&
              (projectId === null || p.project === Number(projectId)),
          ),
        );
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/webhooks\/$/,
      run: (request) => {
        const projectId = request.query.get("project");
        return ok(
          200,
          [...state.webhooks.values()].filter(
            (w) => projectId === null || w.project === Number(projectId),
          ),
        );
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/webhooks\/$/,
      run: (request) => {
        const input = body(request);
        only(input, [
          "url",
          "project",
          "send_payload",
          "send_for_all_actions",
          "headers",
          "is_active",
          "actions",
        ]);
        if (typeof input.url !== "string" || !/^https?:\/\/[^\s]+$/.test(input.url))
          throw invalid({ url: ["Enter a valid URL."] });
        if (
          input.project === undefined ||
          input.project === null ||
          !state.projects.has(Number(input.project))
        )
          throw error(404, "Project not found.");
        const headers = (input.headers ?? {}) as Record<string, unknown>;
        const names = Object.keys(headers);
        if (
          names.length > 10 ||
          names.some((name) => !/^[a-zA-Z0-9-_]+$/.test(name)) ||
          Object.values(headers).some((v) => typeof v !== "string")
        )
          throw invalid({
            headers: ["Invalid headers: at most 10, names [a-zA-Z0-9-_], string values"],
          });
        const actions = (input.actions ?? []) as string[];
        const unknownActions = actions.filter((action) => !ACTIONS.includes(action));
        if (unknownActions.length > 0)
          throw invalid({ actions: unknownActions.map((a) => `"${a}" is not a valid choice.`) });
        const at = iso();
        const hook: LsWebhook = {
          id: nextId++,
          organization: 1,
          project: Number(input.project),
          url: input.url,
          send_payload: input.send_payload !== false,
          send_for_all_actions: input.send_for_all_actions !== false,
          headers: headers as Record<string, string>,
          is_active: input.is_active !== false,
          actions,
          created_at: at,
          updated_at: at,
        };
        state.webhooks.set(hook.id, hook);
        return ok(201, hook);
      },
    },
    {
      method: "DELETE",
      pattern: /^\/api\/webhooks\/(\d+)\/$/,
      run: (_r, [id]) => {
        if (!state.webhooks.delete(Number(id))) throw error(404, "Not found.");
        return ok(204);
      },
    },
  ];

  const server = await startFakeServer({
    errorBody: (status, message) => ({
      id: randomUUID(),
      status_code: status,
      version: VERSION,
      detail: message,
      exc_info: null,
    }),
    handle: async (request) => {
      if (request.path === "/api/token/refresh/") {
        if (request.method !== "POST") throw error(405, `Method "${request.method}" not allowed.`);
        const input = body(request);
        only(input, ["refresh"]);
        if (typeof input.refresh !== "string")
          throw invalid({ refresh: ["This field is required."] });
        if (!readJwt(input.refresh, "refresh")) throw error(401, "Token is invalid or expired");
        state.refreshes += 1;
        return { status: 200, body: { access: jwt("access", accessTtl) } };
      }
      const matching = routes.filter((route) => route.pattern.test(request.path));
      if (matching.length === 0) throw error(404, "Not found.");
      authenticate(request);
      const route = matching.find((candidate) => candidate.method === request.method);
      if (!route) throw error(405, `Method "${request.method}" not allowed.`);
      return (await route.run(request, route.pattern.exec(request.path)!.slice(1))) as {
        status: number;
        body: unknown;
      };
    },
  });

  return {
    url: server.url,
    server,
    legacyToken,
    state,
    createPersonalAccessToken: () => jwt("refresh", 3600 * 24 * 200),
    revokeAccessTokens() {
      accessEpoch += 1;
    },
    annotate: (taskId, result, by = userId) =>
      createAnnotation(task(taskId), validateResult(result), by),
    async updateAnnotation(annotationId, result) {
      const annotation = state.annotations.get(annotationId);
      if (!annotation) throw new Error("unknown annotation");
      annotation.result = validateResult(result);
      annotation.updated_at = iso();
      await emit(annotation.project, "ANNOTATION_UPDATED", {
        annotation,
        task: taskView(task(annotation.task), false),
      });
      return annotation;
    },
    async deleteAnnotation(annotationId) {
      const annotation = state.annotations.get(annotationId);
      if (!annotation) throw new Error("unknown annotation");
      state.annotations.delete(annotationId);
      await emit(annotation.project, "ANNOTATIONS_DELETED", {
        annotations: [{ id: annotationId }],
      });
    },
    dropDeliveries(count) {
      drops += count;
    },
    duplicateDeliveries(count) {
      duplicates += count;
    },
    async close() {
      await Promise.allSettled([...pendingDeliveries]);
      await server.close();
    },
  };
}
