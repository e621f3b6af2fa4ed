/**
 * Typed client for Argilla v2's REST API (`/api/v1`, header `X-Argilla-Api-Key`): only what
 * Loopgate's review sync needs — workspaces, datasets with fields and questions, publishing,
 * records bulk upsert (≤ 500 per request, chunked here), listing and searching records with
 * their responses, and webhooks. Reference: argilla-server 2.8 (see test/fakes/argilla.ts).
 */
import { createHttpClient, type HttpClient, type HttpClientOptions } from "../http.js";
import { ArgillaApiError } from "./errors.js";

export const ARGILLA_BULK_LIMIT = 500;
export const ARGILLA_LIST_LIMIT = 1000;

export interface ArgillaUser {
  id: string;
  username: string;
  first_name: string;
  last_name: string | null;
  role: "owner" | "admin" | "annotator";
}
export interface ArgillaWorkspace {
  id: string;
  name: string;
}
export interface ArgillaDataset {
  id: string;
  name: string;
  guidelines: string | null;
  status: "draft" | "ready";
  distribution: { strategy: "overlap"; min_submitted: number };
  workspace_id: string;
  metadata?: Record<string, unknown> | null;
  inserted_at: string;
  updated_at: string;
}
export type ArgillaFieldSettings =
  | { type: "text"; use_markdown?: boolean }
  | { type: "chat"; use_markdown?: boolean }
  | { type: "image" };
export interface ArgillaField {
  id: string;
  name: string;
  title: string;
  required: boolean;
  settings: ArgillaFieldSettings;
  dataset_id: string;
}
export interface ArgillaOption {
  value: string;
  text: string;
  description?: string | null;
}
export type ArgillaQuestionSettings =
  | { type: "text"; use_markdown?: boolean }
  | { type: "rating"; options: { value: number }[] }
  | { type: "label_selection"; options: ArgillaOption[]; visible_options?: number | null }
  | {
      type: "multi_label_selection";
      options: ArgillaOption[];
      visible_options?: number | null;
      options_order?: "natural" | "suggestion";
    }
  | { type: "ranking"; options: ArgillaOption[] };
export interface ArgillaQuestion {
  id: string;
  name: string;
  title: string;
  description: string | null;
  required: boolean;
  settings: ArgillaQuestionSettings;
  dataset_id: string;
}
export interface ArgillaSuggestionInput {
  /** Suggestions are keyed by the question's id, not its name (see `questionIds`). */
  question_id: string;
  value: unknown;
  score?: number | number[] | null;
  agent?: string | null;
  type?: "model" | "human" | null;
}
export interface ArgillaResponseInput {
  user_id: string;
  status: "submitted" | "discarded" | "draft";
  values?: Record<string, { value: unknown }> | null;
}
export interface ArgillaRecordUpsert {
  id?: string;
  /** Loopgate's id for the item: upserts match on it, so a replayed push never duplicates. */
  external_id: string;
  fields?: Record<string, string | null>;
  metadata?: Record<string, unknown>;
  suggestions?: ArgillaSuggestionInput[];
  responses?: ArgillaResponseInput[];
}
export interface ArgillaResponse {
  id: string;
  values: Record<string, { value: unknown }> | null;
  status: "submitted" | "discarded" | "draft";
  record_id: string;
  user_id: string;
  inserted_at: string;
  updated_at: string;
}
export interface ArgillaSuggestion {
  id: string;
  question_id: string;
  type: "model" | "human" | null;
  value: unknown;
  agent: string | null;
  score: number | number[] | null;
}
export interface ArgillaRecord {
  id: string;
  status: "pending" | "completed";
  fields: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  external_id: string | null;
  dataset_id: string;
  /** Present only when requested with `include`. */
  responses?: ArgillaResponse[];
  suggestions?: ArgillaSuggestion[];
  inserted_at: string;
  updated_at: string;
}
export type ArgillaInclude = "responses" | "suggestions";
export interface ArgillaTermsFilter {
  type: "terms";
  scope: { entity: "record" | "response"; property: "status" };
  values: string[];
}
export interface ArgillaSearchQuery {
  filters?: { and: ArgillaTermsFilter[] };
  sort?: {
    scope: { entity: "record"; property: "inserted_at" | "updated_at" };
    order: "asc" | "desc";
  }[];
}
export type ArgillaWebhookEvent =
  | "dataset.created"
  | "dataset.updated"
  | "dataset.deleted"
  | "dataset.published"
  | "record.created"
  | "record.updated"
  | "record.deleted"
  | "record.completed"
  | "response.created"
  | "response.updated"
  | "response.deleted";
export interface ArgillaWebhook {
  id: string;
  url: string;
  /** Standard Webhooks signing secret; Argilla returns it with the webhook. */
  secret: string;
  events: ArgillaWebhookEvent[];
  enabled: boolean;
  description: string | null;
}

export interface ArgillaClientOptions
  extends Omit<HttpClientOptions, "integration" | "baseUrl" | "headers" | "errorFactory"> {
  /** The server's root, e.g. `https://argilla.example.com` (the client appends `/api/v1`). */
  baseUrl: string;
  apiKey: string;
}

export interface ArgillaClient {
  readonly http: HttpClient;
  me(): Promise<ArgillaUser>;
  listWorkspaces(): Promise<ArgillaWorkspace[]>;
  createWorkspace(name: string): Promise<ArgillaWorkspace>;
  findDataset(workspaceId: string, name: string): Promise<ArgillaDataset | undefined>;
  createDataset(input: {
    name: string;
    workspace_id: string;
    guidelines?: string;
    /** Submitted responses needed before a record counts as completed (overlap). */
    min_submitted?: number;
    allow_extra_metadata?: boolean;
  }): Promise<ArgillaDataset>;
  getDataset(id: string): Promise<ArgillaDataset>;
  createField(
    datasetId: string,
    field: { name: string; title: string; required?: boolean; settings: ArgillaFieldSettings },
  ): Promise<ArgillaField>;
  listFields(datasetId: string): Promise<ArgillaField[]>;
  createQuestion(
    datasetId: string,
    question: {
      name: string;
      title: string;
      description?: string;
      required?: boolean;
      settings: ArgillaQuestionSettings;
    },
  ): Promise<ArgillaQuestion>;
  listQuestions(datasetId: string): Promise<ArgillaQuestion[]>;
  /** Question name → id, for keying suggestions. */
  questionIds(datasetId: string): Promise<Map<string, string>>;
  publishDataset(datasetId: string): Promise<ArgillaDataset>;
  /** Upserts by `external_id`, in requests of at most 500 records; returns every stored record. */
  upsertRecords(
    datasetId: string,
    records: readonly ArgillaRecordUpsert[],
  ): Promise<ArgillaRecord[]>;
  listRecords(
    datasetId: string,
    page?: { offset?: number; limit?: number; include?: ArgillaInclude[] },
  ): Promise<{ items: ArgillaRecord[]; total: number | undefined }>;
  /** Every record from `offset` on, page by page. */
  iterateRecords(
    datasetId: string,
    options?: { offset?: number; pageSize?: number; include?: ArgillaInclude[] },
  ): AsyncGenerator<ArgillaRecord>;
  searchRecords(
    datasetId: string,
    query: ArgillaSearchQuery,
    page?: { offset?: number; limit?: number; include?: ArgillaInclude[] },
  ): Promise<{ items: ArgillaRecord[]; total: number }>;
  getRecord(recordId: string): Promise<ArgillaRecord>;
  listWebhooks(): Promise<ArgillaWebhook[]>;
  createWebhook(input: {
    url: string;
    events: ArgillaWebhookEvent[];
    description?: string;
  }): Promise<ArgillaWebhook>;
  deleteWebhook(id: string): Promise<void>;
}

export function createArgillaClient(options: ArgillaClientOptions): ArgillaClient {
  const { apiKey, baseUrl, ...rest } = options;
  const http = createHttpClient({
    ...rest,
    integration: "argilla",
    baseUrl: `${baseUrl.replace(/\/+$/, "")}/api/v1`,
    headers: () => ({ "X-Argilla-Api-Key": apiKey }),
    errorFactory: (info) => new ArgillaApiError(info),
  });
  const get = async <T>(
    path: string,
    query?: Record<string, string | number | string[] | undefined>,
  ) => (await http.request<T>({ method: "GET", path, query })).body;
  const send = async <T>(
    method: "POST" | "PUT" | "PATCH",
    path: string,
    json?: unknown,
    query?: Record<string, string | number | string[] | undefined>,
  ) => (await http.request<T>({ method, path, json, query })).body;
  const enc = encodeURIComponent;

  const client: ArgillaClient = {
    http,
    me: () => get("/me"),
    listWorkspaces: async () => (await get<{ items: ArgillaWorkspace[] }>("/me/workspaces")).items,
    createWorkspace: (name) => send("POST", "/workspaces", { name }),
    findDataset: async (workspaceId, name) =>
      (
        await get<{ items: ArgillaDataset[] }>("/me/datasets", { workspace_id: workspaceId, name })
      ).items.find((dataset) => dataset.name === name),
    createDataset: (input) =>
      send("POST", "/datasets", {
        name: input.name,
        workspace_id: input.workspace_id,
        ...(input.guidelines === undefined ? {} : { guidelines: input.guidelines }),
        ...(input.allow_extra_metadata === undefined
          ? {}
          : { allow_extra_metadata: input.allow_extra_metadata }),
        distribution: { strategy: "overlap", min_submitted: input.min_submitted ?? 1 },
      }),
    getDataset: (id) => get(`/datasets/${enc(id)}`),
    createField: (datasetId, field) => send("POST", `/datasets/${enc(datasetId)}/fields`, field),
    listFields: async (datasetId) =>
      (await get<{ items: ArgillaField[] }>(`/datasets/${enc(datasetId)}/fields`)).items,
    createQuestion: (datasetId, question) =>
      send("POST", `/datasets/${enc(datasetId)}/questions`, question),
    listQuestions: async (datasetId) =>
      (await get<{ items: ArgillaQuestion[] }>(`/datasets/${enc(datasetId)}/questions`)).items,
    questionIds: async (datasetId) =>
      new Map(
        (await client.listQuestions(datasetId)).map((question) => [question.name, question.id]),
      ),
    publishDataset: (datasetId) => send("PUT", `/datasets/${enc(datasetId)}/publish`),
    async upsertRecords(datasetId, records) {
      const stored: ArgillaRecord[] = [];
      for (let start = 0; start < records.length; start += ARGILLA_BULK_LIMIT) {
        const chunk = records.slice(start, start + ARGILLA_BULK_LIMIT);
        // PUT is an upsert keyed by external_id: repeating it after a timeout is safe.
        const body = await send<{ items: ArgillaRecord[] }>(
          "PUT",
          `/datasets/${enc(datasetId)}/records/bulk`,
          {
            items: chunk,
          },
        );
        stored.push(...body.items);
      }
      return stored;
    },
    listRecords: async (datasetId, page = {}) => {
      const body = await get<{ items: ArgillaRecord[]; total?: number }>(
        `/datasets/${enc(datasetId)}/records`,
        {
          offset: page.offset ?? 0,
          limit: page.limit ?? 100,
          include: page.include,
        },
      );
      return { items: body.items, total: body.total };
    },
    async *iterateRecords(datasetId, options = {}) {
      const pageSize = Math.min(options.pageSize ?? 250, ARGILLA_LIST_LIMIT);
      let offset = options.offset ?? 0;
      for (;;) {
        const { items } = await client.listRecords(datasetId, {
          offset,
          limit: pageSize,
          include: options.include,
        });
        yield* items;
        if (items.length < pageSize) return;
        offset += items.length;
      }
    },
    searchRecords: async (datasetId, query, page = {}) => {
      const body = await http.request<{ items: { record: ArgillaRecord }[]; total: number }>({
        method: "POST",
        path: `/datasets/${enc(datasetId)}/records/search`,
        json: query,
        // A search changes nothing: safe to repeat.
        idempotent: true,
        query: { offset: page.offset ?? 0, limit: page.limit ?? 100, include: page.include },
      });
      return { items: body.body.items.map((item) => item.record), total: body.body.total };
    },
    getRecord: (recordId) => get(`/records/${enc(recordId)}`),
    listWebhooks: async () => (await get<{ items: ArgillaWebhook[] }>("/webhooks")).items,
    createWebhook: (input) => send("POST", "/webhooks", input),
    deleteWebhook: async (id) => {
      await http.request({ method: "DELETE", path: `/webhooks/${enc(id)}` });
    },
  };
  return client;
}
