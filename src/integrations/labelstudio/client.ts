/**
 * Typed client for Label Studio's REST API: only what Loopgate's review sync needs — projects
 * with label configs, task import with the judge's predictions, predictions, tasks and their
 * annotations (paged to the end; Label Studio answers 404 "Invalid page." past the last page),
 * and webhook registration. Paths keep Label Studio's significant trailing slashes.
 *
 * Auth: a legacy token is sent as `Authorization: Token <key>`. A Personal Access Token is a JWT
 * refresh token: it is exchanged at `POST /api/token/refresh/` for a short-lived access token
 * sent as `Bearer`, refreshed before it expires and once more on a 401.
 */
import {
  createHttpClient,
  type HttpClient,
  type HttpClientOptions,
  type HttpRequest,
} from "../http.js";
import { LabelStudioApiError } from "./errors.js";
import type { LabelStudioAction } from "./webhooks.js";

export interface LsResultItem {
  id?: string;
  from_name: string;
  to_name: string;
  type: string;
  value: Record<string, unknown>;
}
export interface LabelStudioProject {
  id: number;
  title: string;
  description: string;
  label_config: string;
  maximum_annotations: number;
  task_number: number;
  total_annotations_number: number;
  created_at: string;
}
export interface LabelStudioPredictionInput {
  result: LsResultItem[];
  score?: number;
  model_version?: string;
}
export interface LabelStudioTaskInput {
  data: Record<string, unknown>;
  /** Loopgate's ids ride here, so a backfill can map tasks back. */
  meta?: Record<string, unknown>;
  predictions?: LabelStudioPredictionInput[];
}
export interface LabelStudioAnnotation {
  id: number;
  result: LsResultItem[];
  task: number;
  project: number;
  completed_by: number;
  was_cancelled: boolean;
  ground_truth: boolean;
  lead_time: number | null;
  created_at: string;
  updated_at: string;
}
export interface LabelStudioPrediction {
  id: number;
  task: number;
  project: number;
  result: LsResultItem[];
  score: number | null;
  model_version: string;
  created_at: string;
}
export interface LabelStudioTask {
  id: number;
  project: number;
  data: Record<string, unknown>;
  meta: Record<string, unknown>;
  total_annotations: number;
  total_predictions: number;
  is_labeled: boolean;
  /** Present with `fields: "all"`. */
  annotations?: LabelStudioAnnotation[];
  predictions?: LabelStudioPrediction[];
  created_at: string;
  updated_at: string;
}
export interface LabelStudioWebhook {
  id: number;
  project: number;
  url: string;
  send_payload: boolean;
  send_for_all_actions: boolean;
  headers: Record<string, string>;
  is_active: boolean;
  actions: LabelStudioAction[];
}

export interface LabelStudioClientOptions
  extends Omit<HttpClientOptions, "integration" | "baseUrl" | "headers" | "errorFactory"> {
  baseUrl: string;
  /** A legacy token or a Personal Access Token (JWT); told apart by its shape. */
  apiKey: string;
}

export interface LabelStudioClient {
  readonly http: HttpClient;
  readonly authMode: "token" | "jwt";
  listProjects(page?: {
    page?: number;
    pageSize?: number;
  }): Promise<{ count: number; results: LabelStudioProject[] }>;
  createProject(input: {
    title: string;
    label_config: string;
    description?: string;
    expert_instruction?: string;
    /** Annotations each task needs (overlap for agreement). */
    maximum_annotations?: number;
  }): Promise<LabelStudioProject>;
  getProject(id: number): Promise<LabelStudioProject>;
  /** Imports tasks (with predictions) synchronously; returns the new task ids in order. */
  importTasks(
    projectId: number,
    tasks: readonly LabelStudioTaskInput[],
  ): Promise<{ taskCount: number; taskIds: number[] }>;
  listTasks(
    projectId: number,
    page?: { page?: number; pageSize?: number; fields?: "all" | "task_only" },
  ): Promise<{ tasks: LabelStudioTask[]; total: number }>;
  /** Every task of a project from `startPage` on, stopping at an empty page or the 404 past the last. */
  iterateTasks(
    projectId: number,
    options?: { startPage?: number; pageSize?: number; fields?: "all" | "task_only" },
  ): AsyncGenerator<LabelStudioTask>;
  getTask(id: number): Promise<LabelStudioTask>;
  listTaskAnnotations(taskId: number): Promise<LabelStudioAnnotation[]>;
  getAnnotation(id: number): Promise<LabelStudioAnnotation>;
  createPrediction(
    input: { task: number } & LabelStudioPredictionInput,
  ): Promise<LabelStudioPrediction>;
  listWebhooks(projectId: number): Promise<LabelStudioWebhook[]>;
  createWebhook(input: {
    project: number;
    url: string;
    /** The only way to authenticate deliveries: Label Studio does not sign them. */
    headers: Record<string, string>;
    actions: LabelStudioAction[];
  }): Promise<LabelStudioWebhook>;
  deleteWebhook(id: number): Promise<void>;
}

const REFRESH_PATH = "/api/token/refresh/";

/** A Personal Access Token is a JWT with an `exp` claim; anything else is a legacy token. */
export function isPersonalAccessToken(key: string): boolean {
  const parts = key.split(".");
  if (parts.length !== 3) return false;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    return typeof claims.exp === "number";
  } catch {
    return false;
  }
}

function expiresAt(jwt: string): number {
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as {
    exp?: number;
  };
  return (claims.exp ?? 0) * 1000;
}

export function createLabelStudioClient(options: LabelStudioClientOptions): LabelStudioClient {
  const { apiKey, baseUrl, ...rest } = options;
  const authMode = isPersonalAccessToken(apiKey) ? "jwt" : "token";
  const now = () => (options.clock ?? { now: () => new Date() }).now().getTime();
  let access: { token: string; expiresAt: number } | undefined;

  const errorFactory = (info: Parameters<NonNullable<HttpClientOptions["errorFactory"]>>[0]) =>
    new LabelStudioApiError(info);
  async function accessToken(): Promise<string> {
    // Refresh a little early so a token does not expire in flight.
    if (access && access.expiresAt - 30_000 > now()) return access.token;
    const response = await http.request<{ access: string }>({
      method: "POST",
      path: REFRESH_PATH,
      json: { refresh: apiKey },
      // Minting another access token is harmless; the exchange itself carries no Authorization.
      idempotent: true,
      withoutDefaultHeaders: true,
    });
    access = { token: response.body.access, expiresAt: expiresAt(response.body.access) };
    return access.token;
  }

  const http: HttpClient = createHttpClient({
    ...rest,
    integration: "labelstudio",
    baseUrl,
    errorFactory,
    headers: async () => ({
      Authorization: authMode === "jwt" ? `Bearer ${await accessToken()}` : `Token ${apiKey}`,
    }),
  });

  async function request<T>(req: HttpRequest): Promise<T> {
    try {
      return (await http.request<T>(req)).body;
    } catch (error) {
      // An access token revoked or expired early: refresh once and repeat.
      if (
        authMode === "jwt" &&
        error instanceof LabelStudioApiError &&
        error.status === 401 &&
        error.path !== REFRESH_PATH
      ) {
        access = undefined;
        return (await http.request<T>(req)).body;
      }
      throw error;
    }
  }

  const client: LabelStudioClient = {
    http,
    authMode,
    listProjects: (page = {}) =>
      request({
        method: "GET",
        path: "/api/projects/",
        query: { page: page.page ?? 1, page_size: page.pageSize ?? 100 },
      }),
    createProject: (input) => request({ method: "POST", path: "/api/projects/", json: input }),
    getProject: (id) => request({ method: "GET", path: `/api/projects/${id}/` }),
    async importTasks(projectId, tasks) {
      const body = await request<{ task_count: number; task_ids?: number[] }>({
        method: "POST",
        path: `/api/projects/${projectId}/import`,
        query: { commit_to_project: "true", return_task_ids: "true" },
        json: tasks,
      });
      return { taskCount: body.task_count, taskIds: body.task_ids ?? [] };
    },
    listTasks: (projectId, page = {}) =>
      request({
        method: "GET",
        path: "/api/tasks/",
        query: {
          project: projectId,
          page: page.page ?? 1,
          page_size: page.pageSize ?? 100,
          fields: page.fields ?? "task_only",
        },
      }),
    async *iterateTasks(projectId, options = {}) {
      const pageSize = options.pageSize ?? 100;
      for (let page = options.startPage ?? 1; ; page++) {
        let tasks: LabelStudioTask[];
        try {
          ({ tasks } = await client.listTasks(projectId, {
            page,
            pageSize,
            fields: options.fields,
          }));
        } catch (error) {
          // Label Studio's paginator refuses any page past the last one.
          if (error instanceof LabelStudioApiError && error.status === 404 && page > 1) return;
          throw error;
        }
        yield* tasks;
        if (tasks.length < pageSize) return;
      }
    },
    getTask: (id) => request({ method: "GET", path: `/api/tasks/${id}/` }),
    listTaskAnnotations: (taskId) =>
      request({ method: "GET", path: `/api/tasks/${taskId}/annotations/` }),
    getAnnotation: (id) => request({ method: "GET", path: `/api/annotations/${id}/` }),
    createPrediction: (input) =>
      request({ method: "POST", path: "/api/predictions/", json: input }),
    listWebhooks: (projectId) =>
      request({ method: "GET", path: "/api/webhooks/", query: { project: projectId } }),
    createWebhook: (input) =>
      request({
        method: "POST",
        path: "/api/webhooks/",
        json: { ...input, send_payload: true, send_for_all_actions: false, is_active: true },
      }),
    deleteWebhook: async (id) => {
      await request({ method: "DELETE", path: `/api/webhooks/${id}/` });
    },
  };
  return client;
}
