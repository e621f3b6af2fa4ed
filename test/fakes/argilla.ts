/**
 * Fake Argilla server (v2, REST under /api/v1) for tests.
 *
 * Follows the argilla-server 2.8 API as published in argilla-io/argilla: request schemas in
 * argilla-server/src/argilla_server/api/schemas/v1/{datasets,fields,questions,records,
 * records_bulk,responses,suggestions,webhooks}.py, handlers in api/handlers/v1/, error bodies as
 * asserted by its tests (legacy `{"detail":{"code":"argilla.api.errors::…","params":…}}` for
 * 401/403/validation, `{"detail":"…"}` for domain errors), webhook deliveries per
 * webhooks/v1/commons.py (Standard Webhooks: webhook-id/-timestamp/-signature) and the event
 * shapes in docs/how_to_guides/webhooks_internals.md. Notes: /work/shared/reference/argilla.md.
 *
 * Deliberately stricter than the real server in one way: pydantic there ignores unknown body
 * fields; here they are refused (422), so a misspelt field in our client fails a test instead of
 * being silently dropped in production.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import {
  deliver,
  FakeHttpError,
  type FakeRequest,
  type FakeServer,
  readJson,
  startFakeServer,
} from "./server.js";

const NAME = /^(?=.*[a-z0-9])[a-z0-9_-]+$/;
const WORKSPACE_NAME = /^(?!-|_)[a-z0-9-_]+$/;
const AGENT = /^(?=.*[a-zA-Z0-9])[a-zA-Z0-9-_:./\s]+$/;
export const ARGILLA_BULK_LIMIT = 500;
const LIST_LIMIT_MAX = 1000;

type Role = "owner" | "admin" | "annotator";
interface User {
  id: string;
  username: string;
  first_name: string;
  last_name: string | null;
  role: Role;
  api_key: string;
  inserted_at: string;
  updated_at: string;
}
interface Workspace {
  id: string;
  name: string;
  inserted_at: string;
  updated_at: string;
}
interface Dataset {
  id: string;
  name: string;
  guidelines: string | null;
  allow_extra_metadata: boolean;
  status: "draft" | "ready";
  distribution: { strategy: "overlap"; min_submitted: number };
  metadata: Record<string, unknown> | null;
  workspace_id: string;
  last_activity_at: string;
  inserted_at: string;
  updated_at: string;
}
interface Field {
  id: string;
  name: string;
  title: string;
  required: boolean;
  settings: { type: string; [key: string]: unknown };
  dataset_id: string;
  inserted_at: string;
  updated_at: string;
}
interface Question {
  id: string;
  name: string;
  title: string;
  description: string | null;
  required: boolean;
  settings: { type: string; options?: { value: string | number }[]; [key: string]: unknown };
  dataset_id: string;
  inserted_at: string;
  updated_at: string;
}
interface ResponseDoc {
  id: string;
  values: Record<string, { value: unknown }> | null;
  status: "submitted" | "discarded" | "draft";
  record_id: string;
  user_id: string;
  inserted_at: string;
  updated_at: string;
}
interface SuggestionDoc {
  id: string;
  question_id: string;
  type: "model" | "human" | null;
  value: unknown;
  agent: string | null;
  score: number | number[] | null;
  inserted_at: string;
  updated_at: string;
}
interface RecordDoc {
  id: string;
  status: "pending" | "completed";
  fields: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  external_id: string | null;
  dataset_id: string;
  responses: ResponseDoc[];
  suggestions: SuggestionDoc[];
  inserted_at: string;
  updated_at: string;
}
interface WebhookDoc {
  id: string;
  url: string;
  secret: string;
  events: string[];
  enabled: boolean;
  description: string | null;
  inserted_at: string;
  updated_at: string;
}

export interface ArgillaDelivery {
  webhookId: string;
  messageId: string;
  type: string;
  status: number;
  attempt: number;
}

export interface FakeArgillaOptions {
  apiKey?: string;
  /** Retry intervals of failed deliveries (the real server: 10, 60, 180 s). */
  deliveryRetryMs?: number[];
  deliveryTimeoutMs?: number;
}

/** Naive ISO datetimes without `Z`, as Argilla emits them. */
const naive = (date = new Date()) => date.toISOString().replace("Z", "");

const nonEmpty = (max: number) => z.string().min(1).max(max);
const optionSchema = z.strictObject({
  value: nonEmpty(200),
  text: nonEmpty(500),
  description: z.string().min(1).max(1000).nullish(),
});
const questionSettings = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("text"), use_markdown: z.boolean().default(false) }),
  z.strictObject({
    type: z.literal("rating"),
    options: z
      .array(z.strictObject({ value: z.int().min(0).max(10) }))
      .min(2)
      .max(11),
  }),
  z.strictObject({
    type: z.literal("label_selection"),
    options: z.array(optionSchema).min(2).max(500),
    visible_options: z.int().min(3).nullish(),
  }),
  z.strictObject({
    type: z.literal("multi_label_selection"),
    options: z.array(optionSchema).min(2).max(500),
    visible_options: z.int().min(3).nullish(),
    options_order: z.enum(["natural", "suggestion"]).default("natural"),
  }),
  z.strictObject({ type: z.literal("ranking"), options: z.array(optionSchema).min(2).max(50) }),
]);
const fieldSettings = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("text"), use_markdown: z.boolean().default(false) }),
  z.strictObject({ type: z.literal("image") }),
  z.strictObject({ type: z.literal("chat"), use_markdown: z.boolean().default(true) }),
]);
const schemas = {
  workspace: z.strictObject({ name: z.string().regex(WORKSPACE_NAME) }),
  dataset: z.strictObject({
    name: nonEmpty(200),
    guidelines: nonEmpty(10_000).nullish(),
    allow_extra_metadata: z.boolean().default(true),
    distribution: z
      .strictObject({ strategy: z.literal("overlap"), min_submitted: z.int().min(1) })
      .default({ strategy: "overlap", min_submitted: 1 }),
    metadata: z.record(z.string(), z.unknown()).nullish(),
    workspace_id: z.uuid(),
  }),
  field: z.strictObject({
    name: z.string().regex(NAME).max(200),
    title: nonEmpty(500),
    required: z.boolean().optional(),
    settings: fieldSettings,
  }),
  question: z.strictObject({
    name: z.string().regex(NAME).max(200),
    title: nonEmpty(500),
    description: nonEmpty(1000).nullish(),
    required: z.boolean().optional(),
    settings: questionSettings,
  }),
  records: z.strictObject({
    items: z
      .array(
        z.strictObject({
          id: z.uuid().nullish(),
          external_id: z.string().nullish(),
          fields: z.record(z.string(), z.string().nullable()).nullish(),
          metadata: z.record(z.string(), z.unknown()).nullish(),
          suggestions: z
            .array(
              z.strictObject({
                question_id: z.uuid(),
                type: z.enum(["model", "human"]).nullish(),
                value: z.unknown(),
                agent: z.string().regex(AGENT).max(200).nullish(),
                score: z
                  .union([z.number().min(0).max(1), z.array(z.number().min(0).max(1))])
                  .nullish(),
              }),
            )
            .nullish(),
          responses: z
            .array(
              z.strictObject({
                user_id: z.uuid(),
                status: z.enum(["submitted", "discarded", "draft"]),
                values: z.record(z.string(), z.strictObject({ value: z.unknown() })).nullish(),
              }),
            )
            .nullish(),
        }),
      )
      .min(1)
      .max(ARGILLA_BULK_LIMIT),
  }),
  response: z.strictObject({
    status: z.enum(["submitted", "discarded", "draft"]),
    values: z.record(z.string(), z.strictObject({ value: z.unknown() })).nullish(),
  }),
  search: z.strictObject({
    query: z.unknown().optional(),
    filters: z
      .strictObject({
        and: z
          .array(
            z.strictObject({
              type: z.literal("terms"),
              scope: z.strictObject({
                entity: z.enum(["record", "response"]),
                property: z.literal("status"),
              }),
              values: z.array(z.string()).min(1).max(250),
            }),
          )
          .min(1)
          .max(50),
      })
      .nullish(),
    sort: z
      .array(
        z.strictObject({
          scope: z.strictObject({
            entity: z.literal("record"),
            property: z.enum(["inserted_at", "updated_at"]),
          }),
          order: z.enum(["asc", "desc"]),
        }),
      )
      .min(1)
      .max(10)
      .nullish(),
  }),
  webhook: z.strictObject({
    url: z.url(),
    events: z
      .array(
        z.enum([
          "dataset.created",
          "dataset.updated",
          "dataset.deleted",
          "dataset.published",
          "record.created",
          "record.updated",
          "record.deleted",
          "record.completed",
          "response.created",
          "response.updated",
          "response.deleted",
        ]),
      )
      .min(1)
      .refine((events) => new Set(events).size === events.length, "events must be unique"),
    description: nonEmpty(1000).nullish(),
  }),
};

function legacy(status: number, code: string, params: unknown): FakeHttpError {
  return new FakeHttpError(status, { detail: { code: `argilla.api.errors::${code}`, params } });
}
const detail = (status: number, message: string) => new FakeHttpError(status, { detail: message });
const validation = (errors: { loc: (string | number)[]; msg: string; type: string }[]) =>
  legacy(422, "ValidationError", { errors });

function parse<T>(schema: z.ZodType<T>, request: FakeRequest): T {
  const body = readJson(request, (msg) =>
    validation([{ loc: ["body"], msg, type: "value_error.jsondecode" }]),
  );
  const result = schema.safeParse(body);
  if (!result.success) {
    throw validation(
      result.error.issues.map((issue) => ({
        loc: [
          "body",
          ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part)),
        ],
        msg: issue.message,
        type: issue.code === "unrecognized_keys" ? "value_error.extra" : "value_error",
      })),
    );
  }
  return result.data;
}

export interface FakeArgilla {
  readonly url: string;
  readonly server: FakeServer;
  readonly owner: User;
  readonly state: {
    workspaces: Map<string, Workspace>;
    datasets: Map<string, Dataset>;
    fields: Field[];
    questions: Question[];
    records: Map<string, RecordDoc>;
    webhooks: Map<string, WebhookDoc>;
    deliveries: ArgillaDelivery[];
  };
  /** An annotator account (its key may call the API, as the real one does). */
  addAnnotator(username: string): User;
  /** An annotator submits a response in the UI: stored, status recomputed, webhooks fired. */
  submitResponse(
    recordId: string,
    userId: string,
    values: Record<string, { value: unknown }>,
  ): Promise<ResponseDoc>;
  /** The next `count` deliveries are lost (never sent, never retried). */
  dropDeliveries(count: number): void;
  /** The next `count` deliveries are sent twice with the same webhook-id. */
  duplicateDeliveries(count: number): void;
  /** Resolves when every delivery started so far (retries included) has finished. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeArgilla(options: FakeArgillaOptions = {}): Promise<FakeArgilla> {
  const now = naive();
  const owner: User = {
    id: randomUUID(),
    username: "argilla",
    first_name: "Argilla",
    last_name: null,
    role: "owner",
    api_key: options.apiKey ?? "argilla.apikey",
    inserted_at: now,
    updated_at: now,
  };
  const users = new Map<string, User>([[owner.api_key, owner]]);
  const state: FakeArgilla["state"] = {
    workspaces: new Map(),
    datasets: new Map(),
    fields: [],
    questions: [],
    records: new Map(),
    webhooks: new Map(),
    deliveries: [],
  };
  let drops = 0;
  let duplicates = 0;
  const pending = new Set<Promise<void>>();
  const retryMs = options.deliveryRetryMs ?? [20, 50, 100];

  function authenticate(request: FakeRequest): User {
    const key = request.headers["x-argilla-api-key"];
    const user = typeof key === "string" ? users.get(key) : undefined;
    if (!user) throw legacy(401, "UnauthorizedError", { detail: "Could not validate credentials" });
    return user;
  }
  function requireAdmin(user: User): void {
    if (user.role === "annotator")
      throw legacy(403, "ForbiddenOperationError", { detail: "Operation not allowed" });
  }
  function dataset(id: string): Dataset {
    const found = state.datasets.get(id);
    if (!found) throw detail(404, `Dataset with id \`${id}\` not found`);
    return found;
  }
  function include(query: URLSearchParams): Set<string> {
    return new Set(query.getAll("include").flatMap((value) => value.split(",")));
  }
  function recordView(record: RecordDoc, includes: Set<string>) {
    const { responses, suggestions, ...rest } = record;
    return {
      ...rest,
      ...(includes.has("responses") ? { responses } : {}),
      ...(includes.has("suggestions") ? { suggestions } : {}),
    };
  }
  function pageParams(query: URLSearchParams) {
    const offset = Number(query.get("offset") ?? 0);
    const limit = Number(query.get("limit") ?? 50);
    if (!Number.isInteger(offset) || offset < 0)
      throw validation([
        {
          loc: ["query", "offset"],
          msg: "ensure this value is greater than or equal to 0",
          type: "value_error",
        },
      ]);
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX)
      throw validation([
        {
          loc: ["query", "limit"],
          msg: `ensure this value is less than or equal to ${LIST_LIMIT_MAX}`,
          type: "value_error",
        },
      ]);
    return { offset, limit };
  }
  function datasetRecords(datasetId: string): RecordDoc[] {
    return [...state.records.values()].filter((record) => record.dataset_id === datasetId);
  }
  function recomputeStatus(record: RecordDoc): boolean {
    const ds = dataset(record.dataset_id);
    const submitted = record.responses.filter((r) => r.status === "submitted").length;
    const next = submitted >= ds.distribution.min_submitted ? "completed" : "pending";
    const completedNow = next === "completed" && record.status !== "completed";
    record.status = next;
    return completedNow;
  }
  function validateValues(
    ds: Dataset,
    values: Record<string, { value: unknown }> | null | undefined,
    position: number,
  ): void {
    for (const [name, { value }] of Object.entries(values ?? {})) {
      const question = state.questions.find((q) => q.dataset_id === ds.id && q.name === name);
      if (!question)
        throw detail(
          422,
          `Record at position ${position} is not valid because record does not have valid responses: found responses for non configured question with name=\`${name}\``,
        );
      const allowed = question.settings.options?.map((option) => option.value);
      if (question.settings.type === "rating" && !allowed?.includes(value as number))
        throw detail(
          422,
          `Record at position ${position} is not valid because record does not have valid responses: ${String(value)} is not a valid rating for rating question.`,
        );
      if (question.settings.type === "label_selection" && !allowed?.includes(value as string))
        throw detail(
          422,
          `Record at position ${position} is not valid because record does not have valid responses: '${String(value)}' is not a valid label for label selection question.\nValid labels are: ${JSON.stringify(allowed)}`,
        );
    }
  }

  function sign(hook: WebhookDoc, messageId: string, body: string): Record<string, string> {
    const at = new Date();
    return {
      "webhook-id": messageId,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(hook.secret).sign(messageId, at, body),
    };
  }
  function emit(type: string, data: unknown): void {
    for (const hook of state.webhooks.values()) {
      if (!hook.enabled || !hook.events.includes(type)) continue;
      const messageId = `msg_${randomBytes(12).toString("base64url")}`;
      const body = JSON.stringify({ type, version: 1, timestamp: `${naive()}Z`, data });
      if (drops > 0) {
        drops -= 1;
        state.deliveries.push({ webhookId: hook.id, messageId, type, status: -1, attempt: 0 });
        continue;
      }
      const copies = duplicates > 0 ? 2 : 1;
      if (duplicates > 0) duplicates -= 1;
      for (let copy = 0; copy < copies; copy++) {
        const job = (async () => {
          for (let attempt = 0; attempt <= retryMs.length; attempt++) {
            if (attempt > 0)
              await new Promise((resolve) => setTimeout(resolve, retryMs[attempt - 1]));
            // Each attempt is signed afresh (new timestamp), as RQ re-runs the job.
            const status = await deliver(
              hook.url,
              body,
              sign(hook, messageId, body),
              options.deliveryTimeoutMs ?? 2000,
            );
            state.deliveries.push({ webhookId: hook.id, messageId, type, status, attempt });
            if (status >= 200 && status < 300) return;
          }
        })();
        pending.add(job);
        void job.finally(() => pending.delete(job));
      }
    }
  }
  function datasetEvent(ds: Dataset) {
    const ws = state.workspaces.get(ds.workspace_id);
    return {
      ...ds,
      workspace: ws,
      questions: state.questions.filter((q) => q.dataset_id === ds.id),
      fields: state.fields.filter((f) => f.dataset_id === ds.id),
      metadata_properties: [],
      vectors_settings: [],
    };
  }
  function recordEvent(record: RecordDoc) {
    const { responses: _r, suggestions: _s, dataset_id, ...rest } = record;
    return { ...rest, dataset: datasetEvent(dataset(dataset_id)) };
  }
  function storeResponse(
    record: RecordDoc,
    user: User,
    status: ResponseDoc["status"],
    values: ResponseDoc["values"],
  ) {
    const existing = record.responses.find((r) => r.user_id === user.id);
    const at = naive();
    const response: ResponseDoc = existing ?? {
      id: randomUUID(),
      values: null,
      status,
      record_id: record.id,
      user_id: user.id,
      inserted_at: at,
      updated_at: at,
    };
    response.values = values;
    response.status = status;
    response.updated_at = at;
    if (!existing) record.responses.push(response);
    const completed = recomputeStatus(record);
    const { api_key: _key, ...publicUser } = user;
    emit(existing ? "response.updated" : "response.created", {
      id: response.id,
      values: response.values,
      status: response.status,
      record: recordEvent(record),
      user: publicUser,
      inserted_at: response.inserted_at,
      updated_at: response.updated_at,
    });
    if (completed) emit("record.completed", recordEvent(record));
    return response;
  }

  type Route = {
    method: string;
    pattern: RegExp;
    run: (request: FakeRequest, user: User, params: string[]) => unknown;
  };
  const ok = (status: number, body: unknown) => ({ status, body });
  const routes: Route[] = [
    { method: "GET", pattern: /^\/api\/v1\/me$/, run: (_r, user) => ok(200, user) },
    {
      method: "GET",
      pattern: /^\/api\/v1\/me\/workspaces$/,
      run: () => ok(200, { items: [...state.workspaces.values()] }),
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/workspaces$/,
      run: (request, user) => {
        requireAdmin(user);
        const body = parse(schemas.workspace, request);
        if ([...state.workspaces.values()].some((w) => w.name === body.name))
          throw detail(409, `Workspace name \`${body.name}\` is not unique`);
        const at = naive();
        const ws = { id: randomUUID(), name: body.name, inserted_at: at, updated_at: at };
        state.workspaces.set(ws.id, ws);
        return ok(201, ws);
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/me\/datasets$/,
      run: (request) => {
        const workspaceId = request.query.get("workspace_id");
        const name = request.query.get("name");
        const items = [...state.datasets.values()].filter(
          (ds) =>
            (workspaceId === null || ds.workspace_id === workspaceId) &&
            (name === null || ds.name === name),
        );
        return ok(200, { items });
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/datasets$/,
      run: (request, user) => {
        requireAdmin(user);
        const body = parse(schemas.dataset, request);
        if (!state.workspaces.has(body.workspace_id))
          throw detail(422, `Workspace with id \`${body.workspace_id}\` not found`);
        if (
          [...state.datasets.values()].some(
            (ds) => ds.workspace_id === body.workspace_id && ds.name === body.name,
          )
        )
          throw detail(
            409,
            `Dataset with name \`${body.name}\` already exists for workspace with id \`${body.workspace_id}\``,
          );
        const at = naive();
        const ds: Dataset = {
          id: randomUUID(),
          name: body.name,
          guidelines: body.guidelines ?? null,
          allow_extra_metadata: body.allow_extra_metadata,
          status: "draft",
          distribution: body.distribution,
          metadata: body.metadata ?? null,
          workspace_id: body.workspace_id,
          last_activity_at: at,
          inserted_at: at,
          updated_at: at,
        };
        state.datasets.set(ds.id, ds);
        emit("dataset.created", datasetEvent(ds));
        return ok(201, ds);
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/datasets\/([^/]+)$/,
      run: (_r, _u, [id]) => ok(200, dataset(id!)),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/fields$/,
      run: (_r, _u, [id]) =>
        ok(200, { items: state.fields.filter((f) => f.dataset_id === dataset(id!).id) }),
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/fields$/,
      run: (request, user, [id]) => {
        requireAdmin(user);
        const ds = dataset(id!);
        const body = parse(schemas.field, request);
        if (ds.status === "ready")
          throw detail(422, "Field cannot be created for a published dataset");
        if (state.fields.some((f) => f.dataset_id === ds.id && f.name === body.name))
          throw detail(
            409,
            `Field with name \`${body.name}\` already exists for dataset with id \`${ds.id}\``,
          );
        const at = naive();
        const field: Field = {
          id: randomUUID(),
          ...body,
          required: body.required ?? true,
          dataset_id: ds.id,
          inserted_at: at,
          updated_at: at,
        };
        state.fields.push(field);
        return ok(201, field);
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/questions$/,
      run: (_r, _u, [id]) =>
        ok(200, { items: state.questions.filter((q) => q.dataset_id === dataset(id!).id) }),
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/questions$/,
      run: (request, user, [id]) => {
        requireAdmin(user);
        const ds = dataset(id!);
        const body = parse(schemas.question, request);
        if (state.questions.some((q) => q.dataset_id === ds.id && q.name === body.name))
          throw detail(
            409,
            `Question with name \`${body.name}\` already exists for dataset with id \`${ds.id}\``,
          );
        const at = naive();
        const question: Question = {
          id: randomUUID(),
          ...body,
          description: body.description ?? null,
          required: body.required ?? true,
          dataset_id: ds.id,
          inserted_at: at,
          updated_at: at,
        };
        state.questions.push(question);
        return ok(201, question);
      },
    },
    {
      method: "PUT",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/publish$/,
      run: (_r, user, [id]) => {
        requireAdmin(user);
        const ds = dataset(id!);
        if (ds.status === "ready") throw detail(422, "Dataset is already published");
        if (!state.fields.some((f) => f.dataset_id === ds.id && f.required))
          throw detail(422, "Dataset cannot be published without required fields");
        if (!state.questions.some((q) => q.dataset_id === ds.id && q.required))
          throw detail(422, "Dataset cannot be published without required questions");
        ds.status = "ready";
        ds.updated_at = naive();
        emit("dataset.published", datasetEvent(ds));
        return ok(200, ds);
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/records\/bulk$/,
      run: (request, user, [id]) => bulk(request, user, id!, false),
    },
    {
      method: "PUT",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/records\/bulk$/,
      run: (request, user, [id]) => bulk(request, user, id!, true),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/records$/,
      run: (request, user, [id]) => {
        requireAdmin(user);
        const ds = dataset(id!);
        const { offset, limit } = pageParams(request.query);
        const all = datasetRecords(ds.id);
        const includes = include(request.query);
        return ok(200, {
          items: all.slice(offset, offset + limit).map((r) => recordView(r, includes)),
          total: all.length,
        });
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/datasets\/([^/]+)\/records\/search$/,
      run: (request, user, [id]) => {
        requireAdmin(user);
        const ds = dataset(id!);
        const { offset, limit } = pageParams(request.query);
        const body = parse(schemas.search, request);
        if (body.query !== undefined && body.query !== null)
          throw detail(422, "text and vector queries are not supported by this fake");
        let matches = datasetRecords(ds.id).filter((record) =>
          (body.filters?.and ?? []).every((filter) =>
            filter.scope.entity === "record"
              ? filter.values.includes(record.status)
              : record.responses.some((r) => filter.values.includes(r.status)),
          ),
        );
        const sort = body.sort?.[0];
        if (sort) {
          const key = sort.scope.property;
          matches = [...matches].sort(
            (a, b) => a[key].localeCompare(b[key]) * (sort.order === "asc" ? 1 : -1),
          );
        }
        const includes = include(request.query);
        return ok(200, {
          items: matches
            .slice(offset, offset + limit)
            .map((r) => ({ record: recordView(r, includes), query_score: null })),
          total: matches.length,
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/records\/([^/]+)$/,
      run: (_r, _u, [id]) => {
        const record = state.records.get(id!);
        if (!record) throw detail(404, `Record with id \`${id}\` not found`);
        return ok(200, recordView(record, new Set(["responses", "suggestions"])));
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/records\/([^/]+)\/responses$/,
      run: (request, user, [id]) => {
        const record = state.records.get(id!);
        if (!record) throw detail(404, `Record with id \`${id}\` not found`);
        const body = parse(schemas.response, request);
        if (body.status === "submitted" && !body.values)
          throw detail(422, "missing response values for submitted response");
        if (record.responses.some((r) => r.user_id === user.id))
          throw detail(
            409,
            `Response already exists for record with id \`${record.id}\` and by user with id \`${user.id}\``,
          );
        validateValues(dataset(record.dataset_id), body.values, 0);
        return ok(201, storeResponse(record, user, body.status, body.values ?? null));
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/webhooks$/,
      run: (_r, user) => {
        requireOwner(user);
        return ok(200, { items: [...state.webhooks.values()] });
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/webhooks$/,
      run: (request, user) => {
        requireOwner(user);
        const body = parse(schemas.webhook, request);
        const at = naive();
        const hook: WebhookDoc = {
          id: randomUUID(),
          url: body.url,
          secret: randomBytes(24).toString("base64"),
          events: body.events,
          enabled: true,
          description: body.description ?? null,
          inserted_at: at,
          updated_at: at,
        };
        state.webhooks.set(hook.id, hook);
        return ok(201, hook);
      },
    },
    {
      method: "DELETE",
      pattern: /^\/api\/v1\/webhooks\/([^/]+)$/,
      run: (_r, user, [id]) => {
        requireOwner(user);
        const hook = state.webhooks.get(id!);
        if (!hook) throw detail(404, `Webhook with id \`${id}\` not found`);
        state.webhooks.delete(hook.id);
        return ok(200, hook);
      },
    },
  ];

  function requireOwner(user: User): void {
    if (user.role !== "owner")
      throw legacy(403, "ForbiddenOperationError", { detail: "Operation not allowed" });
  }

  function bulk(request: FakeRequest, user: User, datasetId: string, upsert: boolean) {
    requireAdmin(user);
    const ds = dataset(datasetId);
    const body = parse(schemas.records, request);
    if (ds.status !== "ready")
      throw detail(422, `Records cannot be created for a non published dataset`);
    const externalIds = body.items.map((item) => item.external_id).filter((id) => id != null);
    if (new Set(externalIds).size !== externalIds.length)
      throw detail(422, "Found duplicate external_id values in the request items");
    const fields = state.fields.filter((f) => f.dataset_id === ds.id);
    const questions = new Map(
      state.questions.filter((q) => q.dataset_id === ds.id).map((q) => [q.id, q]),
    );
    const existing = datasetRecords(ds.id);
    // Validate everything first: a refused bulk changes nothing.
    const plans = body.items.map((item, position) => {
      const found = upsert
        ? existing.find(
            (r) =>
              (item.id != null && r.id === item.id) ||
              (item.external_id != null && r.external_id === item.external_id),
          )
        : undefined;
      if (!upsert && item.id != null)
        throw validation([
          {
            loc: ["body", "items", position, "id"],
            msg: "extra fields not permitted",
            type: "value_error.extra",
          },
        ]);
      if (
        !upsert &&
        item.external_id != null &&
        existing.some((r) => r.external_id === item.external_id)
      )
        throw detail(
          422,
          `Record at position ${position} is not valid because external_id \`${item.external_id}\` already exists`,
        );
      if (!found) {
        if (!item.fields)
          throw detail(
            422,
            `Record at position ${position} does not have valid fields: missing fields`,
          );
        for (const field of fields)
          if (
            field.required &&
            (item.fields[field.name] === undefined || item.fields[field.name] === null)
          )
            throw detail(
              422,
              `Record at position ${position} does not have valid fields: missing required value for field=${JSON.stringify(field.name)}`,
            );
      }
      for (const name of Object.keys(item.fields ?? {}))
        if (!fields.some((f) => f.name === name))
          throw detail(
            422,
            `Record at position ${position} does not have valid fields: found fields values for non configured fields: ${JSON.stringify([name])}`,
          );
      const seenQuestions = new Set<string>();
      for (const suggestion of item.suggestions ?? []) {
        const question = questions.get(suggestion.question_id);
        if (!question)
          throw detail(
            422,
            `Record at position ${position} does not have valid suggestions: question_id=${suggestion.question_id} does not exist`,
          );
        if (seenQuestions.has(question.id))
          throw detail(
            422,
            `Record at position ${position} does not have valid suggestions: found duplicate suggestions question IDs`,
          );
        seenQuestions.add(question.id);
      }
      const responseUsers = new Set<string>();
      for (const response of item.responses ?? []) {
        if (responseUsers.has(response.user_id))
          throw validation([
            {
              loc: ["body", "items", position, "responses"],
              msg: `'responses' contains several responses for the same user_id='${response.user_id}'`,
              type: "value_error",
            },
          ]);
        responseUsers.add(response.user_id);
        if (response.status === "submitted" && !response.values)
          throw detail(
            422,
            `Record at position ${position} is not valid because record does not have valid responses: missing response values for submitted response`,
          );
        validateValues(ds, response.values, position);
      }
      return { item, found };
    });
    const items: RecordDoc[] = [];
    for (const { item, found } of plans) {
      const at = naive();
      const record: RecordDoc = found ?? {
        id: item.id ?? randomUUID(),
        status: "pending",
        fields: {},
        metadata: null,
        external_id: item.external_id ?? null,
        dataset_id: ds.id,
        responses: [],
        suggestions: [],
        inserted_at: at,
        updated_at: at,
      };
      if (item.fields) record.fields = { ...record.fields, ...item.fields };
      if (item.metadata !== undefined) record.metadata = item.metadata ?? null;
      for (const suggestion of item.suggestions ?? []) {
        const previous = record.suggestions.find((s) => s.question_id === suggestion.question_id);
        const doc: SuggestionDoc = {
          id: previous?.id ?? randomUUID(),
          question_id: suggestion.question_id,
          type: suggestion.type ?? null,
          value: suggestion.value,
          agent: suggestion.agent ?? null,
          score: suggestion.score ?? null,
          inserted_at: previous?.inserted_at ?? at,
          updated_at: at,
        };
        record.suggestions = [...record.suggestions.filter((s) => s !== previous), doc];
      }
      for (const response of item.responses ?? []) {
        const previous = record.responses.find((r) => r.user_id === response.user_id);
        const doc: ResponseDoc = {
          id: previous?.id ?? randomUUID(),
          values: response.values ?? null,
          status: response.status,
          record_id: record.id,
          user_id: response.user_id,
          inserted_at: previous?.inserted_at ?? at,
          updated_at: at,
        };
        record.responses = [...record.responses.filter((r) => r !== previous), doc];
      }
      record.updated_at = at;
      recomputeStatus(record);
      if (!found) state.records.set(record.id, record);
      emit(found ? "record.updated" : "record.created", recordEvent(record));
      items.push(record);
    }
    const includes = new Set(["responses", "suggestions"]);
    return ok(upsert ? 200 : 201, { items: items.map((r) => recordView(r, includes)) });
  }

  const server = await startFakeServer({
    errorBody: (_status, message) => ({ detail: message }),
    handle: (request) => {
      const matching = routes.filter((route) => route.pattern.test(request.path));
      if (matching.length === 0) throw detail(404, "Not Found");
      const route = matching.find((candidate) => candidate.method === request.method);
      if (!route) throw detail(405, "Method Not Allowed");
      const user = authenticate(request);
      const params = route.pattern.exec(request.path)!.slice(1);
      return route.run(request, user, params) as { status: number; body: unknown };
    },
  });

  return {
    url: server.url,
    server,
    owner,
    state,
    addAnnotator(username) {
      const at = naive();
      const user: User = {
        id: randomUUID(),
        username,
        first_name: username,
        last_name: null,
        role: "annotator",
        api_key: `annotator.${randomUUID()}`,
        inserted_at: at,
        updated_at: at,
      };
      users.set(user.api_key, user);
      return user;
    },
    async submitResponse(recordId, userId, values) {
      const record = state.records.get(recordId);
      const user = [...users.values()].find((u) => u.id === userId);
      if (!record || !user) throw new Error("unknown record or user");
      validateValues(dataset(record.dataset_id), values, 0);
      return storeResponse(record, user, "submitted", values);
    },
    dropDeliveries(count) {
      drops += count;
    },
    duplicateDeliveries(count) {
      duplicates += count;
    },
    async settled() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    close: () => server.close(),
  };
}
