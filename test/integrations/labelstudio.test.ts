import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpTimeoutError } from "../../src/integrations/http.js";
import {
  createLabelStudioClient,
  isPersonalAccessToken,
  type LabelStudioClient,
} from "../../src/integrations/labelstudio/client.js";
import { LabelStudioApiError } from "../../src/integrations/labelstudio/errors.js";
import {
  choicesConfig,
  correctionConfig,
  pairwiseConfig,
  ratingConfig,
} from "../../src/integrations/labelstudio/label-configs.js";
import {
  LabelStudioWebhookError,
  type LabelStudioWebhookPayload,
  verifyLabelStudioWebhook,
} from "../../src/integrations/labelstudio/webhooks.js";
import { type FakeLabelStudio, startFakeLabelStudio } from "../fakes/labelstudio.js";
import { type FakeServer, startFakeServer } from "../fakes/server.js";

let ls: FakeLabelStudio;
let client: LabelStudioClient;
const sleeps: number[] = [];

beforeAll(async () => {
  ls = await startFakeLabelStudio();
  client = createLabelStudioClient({
    baseUrl: ls.url,
    apiKey: ls.legacyToken,
    sleep: async (ms) => void sleeps.push(ms),
  });
});
afterAll(() => ls.close());

const ratingTasks = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => ({
    data: { prompt: `question ${from + i}`, response: `answer ${from + i}` },
    meta: { loopgateInteractionId: `int-${from + i}` },
    predictions: [
      {
        model_version: "llm-judge-1",
        score: 0.8,
        result: [
          { from_name: "rating", to_name: "response", type: "rating", value: { rating: 2 } },
        ],
      },
    ],
  }));

describe("Label Studio client against the fake", () => {
  it("uses legacy Token auth and creates projects for each review kind", async () => {
    expect(client.authMode).toBe("token");
    for (const [title, label_config] of [
      ["Rating review", ratingConfig()],
      ["Pairwise review", pairwiseConfig()],
      ["Correction review", correctionConfig()],
      ["Verdict review", choicesConfig(["good", "bad", 'say "hi" <now>'])],
    ] as const) {
      const project = await client.createProject({ title, label_config, maximum_annotations: 2 });
      expect(project).toMatchObject({ title, label_config, maximum_annotations: 2 });
      expect((await client.getProject(project.id)).id).toBe(project.id);
    }
    expect(ls.server.requests.at(-1)!.headers.authorization).toBe(`Token ${ls.legacyToken}`);
    const { count, results } = await client.listProjects({ pageSize: 2 });
    expect(count).toBeGreaterThanOrEqual(4);
    expect(results).toHaveLength(2);
  });

  it("imports tasks with the judge's predictions and returns their ids", async () => {
    const project = await client.createProject({ title: "Import", label_config: ratingConfig() });
    const { taskCount, taskIds } = await client.importTasks(project.id, ratingTasks(3));
    expect(taskCount).toBe(3);
    expect(taskIds).toHaveLength(3);
    const task = await client.getTask(taskIds[0]!);
    expect(task.meta).toEqual({ loopgateInteractionId: "int-0" });
    expect(task.predictions![0]).toMatchObject({ model_version: "llm-judge-1", score: 0.8 });
    const prediction = await client.createPrediction({
      task: taskIds[1]!,
      model_version: "llm-judge-2",
      score: 0.5,
      result: [{ from_name: "rating", to_name: "response", type: "rating", value: { rating: 4 } }],
    });
    expect(prediction.task).toBe(taskIds[1]);
  });

  it("pages through every task and stops at the 404 past the last page", async () => {
    const project = await client.createProject({ title: "Paging", label_config: ratingConfig() });
    await client.importTasks(project.id, ratingTasks(200));
    const before = ls.server.requests.length;
    const seen: number[] = [];
    for await (const task of client.iterateTasks(project.id, { pageSize: 100, fields: "all" }))
      seen.push(task.id);
    expect(seen).toHaveLength(200);
    expect(new Set(seen).size).toBe(200);
    // Two full pages, then page 3 does not exist: Label Studio says 404 "Invalid page.".
    expect(ls.server.requests.slice(before).map((r) => r.status)).toEqual([200, 200, 404]);
    await client.importTasks(project.id, ratingTasks(50, 200));
    const all: number[] = [];
    for await (const task of client.iterateTasks(project.id, { pageSize: 100 })) all.push(task.id);
    expect(all).toHaveLength(250);
    const past = await client.listTasks(project.id, { page: 9 }).catch((e: unknown) => e);
    expect(past).toBeInstanceOf(LabelStudioApiError);
    expect((past as LabelStudioApiError).detail).toBe("Invalid page.");
  });

  it("lists a task's annotations as a plain array", async () => {
    const project = await client.createProject({
      title: "Annotations",
      label_config: pairwiseConfig(),
    });
    const { taskIds } = await client.importTasks(project.id, [
      { data: { prompt: "p", answer1: "a", answer2: "b" } },
    ]);
    const annotation = await ls.annotate(taskIds[0]!, [
      {
        from_name: "comparison",
        to_name: "comparison",
        type: "pairwise",
        value: { selected: "left" },
      },
    ]);
    const annotations = await client.listTaskAnnotations(taskIds[0]!);
    expect(annotations).toEqual([expect.objectContaining({ id: annotation.id, completed_by: 1 })]);
    expect((await client.getAnnotation(annotation.id)).result[0]!.value).toEqual({
      selected: "left",
    });
  });

  it("respects 429 Retry-After", async () => {
    const project = await client.createProject({ title: "Throttle", label_config: ratingConfig() });
    sleeps.length = 0;
    ls.server.inject({
      fault: { kind: "status", status: 429, retryAfter: "4" },
      times: 1,
      path: "/api/tasks/",
    });
    const { total } = await client.listTasks(project.id);
    expect(total).toBe(0);
    expect(sleeps).toEqual([4000]);
  });
});

describe("Personal Access Tokens (JWT)", () => {
  it("exchanges the PAT for an access token, reuses it, and refreshes after a 401", async () => {
    const pat = ls.createPersonalAccessToken();
    expect(isPersonalAccessToken(pat)).toBe(true);
    expect(isPersonalAccessToken(ls.legacyToken)).toBe(false);
    const jwtClient = createLabelStudioClient({ baseUrl: ls.url, apiKey: pat });
    expect(jwtClient.authMode).toBe("jwt");
    const refreshesBefore = ls.state.refreshes;
    await jwtClient.listProjects();
    await jwtClient.listProjects();
    expect(ls.state.refreshes - refreshesBefore).toBe(1);
    const last = ls.server.requests.at(-1)!;
    expect(last.headers.authorization).toMatch(/^Bearer ey/);
    const refresh = ls.server.requests.find((r) => r.path === "/api/token/refresh/")!;
    expect(refresh.headers.authorization).toBeUndefined();
    ls.revokeAccessTokens();
    await jwtClient.listProjects();
    expect(ls.state.refreshes - refreshesBefore).toBe(2);
  });

  it("reports a rejected PAT as the exchange's 401, after one attempt", async () => {
    const pat = ls.createPersonalAccessToken();
    const [head, body] = pat.split(".");
    const forged = `${head}.${body}.${"A".repeat(43)}`;
    const refreshes = ls.server.requests.filter((r) => r.path === "/api/token/refresh/").length;
    const error = (await createLabelStudioClient({ baseUrl: ls.url, apiKey: forged })
      .listProjects()
      .catch((e: unknown) => e)) as LabelStudioApiError;
    expect(error).toBeInstanceOf(LabelStudioApiError);
    expect(error.status).toBe(401);
    expect(error.detail).toBe("Token is invalid or expired");
    expect(ls.server.requests.filter((r) => r.path === "/api/token/refresh/").length).toBe(
      refreshes + 1,
    );
  });

  it("refuses a bad token, a PAT used as a Bearer token, and disabled legacy tokens", async () => {
    const bad = createLabelStudioClient({ baseUrl: ls.url, apiKey: "not-a-token" });
    const error = (await bad.listProjects().catch((e: unknown) => e)) as LabelStudioApiError;
    expect(error.status).toBe(401);
    expect(error.detail).toBe("Invalid token.");
    const raw = await fetch(`${ls.url}/api/projects/`, {
      headers: { Authorization: `Bearer ${ls.createPersonalAccessToken()}` },
    });
    expect(raw.status).toBe(401);
    const noLegacy = await startFakeLabelStudio({ legacyTokensEnabled: false });
    try {
      const legacy = createLabelStudioClient({
        baseUrl: noLegacy.url,
        apiKey: noLegacy.legacyToken,
      });
      expect(await legacy.listProjects().catch((e: unknown) => e)).toMatchObject({ status: 401 });
      const viaPat = createLabelStudioClient({
        baseUrl: noLegacy.url,
        apiKey: noLegacy.createPersonalAccessToken(),
      });
      expect((await viaPat.listProjects()).count).toBe(0);
    } finally {
      await noLegacy.close();
    }
  });
});

describe("timeouts against the Label Studio fake", () => {
  it("retries a timed-out listing, but not a timed-out import, which may have landed", async () => {
    const patient = createLabelStudioClient({
      baseUrl: ls.url,
      apiKey: ls.legacyToken,
      timeoutMs: 150,
      sleep: async () => {},
    });
    const project = await patient.createProject({
      title: "Timeouts",
      label_config: ratingConfig(),
    });
    ls.server.inject({ fault: { kind: "delay", ms: 400 }, times: 1, path: "/api/tasks/" });
    expect((await patient.listTasks(project.id)).total).toBe(0);
    ls.server.inject({ fault: { kind: "delay", ms: 400 }, times: 1, path: "/import" });
    await expect(patient.importTasks(project.id, ratingTasks(2))).rejects.toBeInstanceOf(
      HttpTimeoutError,
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The server finished the import after we gave up: only a backfill (by meta ids) can tell.
    const landed = [...ls.state.tasks.values()].filter((t) => t.project === project.id);
    expect(landed).toHaveLength(2);
    expect(
      ls.server.requests.filter((r) => r.path === `/api/projects/${project.id}/import`),
    ).toHaveLength(1);
  });
});

describe("the Label Studio fake refuses what Label Studio refuses", () => {
  const raw = (method: string, path: string, body?: unknown) =>
    fetch(`${ls.url}${path}`, {
      method,
      headers: { Authorization: `Token ${ls.legacyToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it("missing trailing slash, wrong method, unknown fields, bad label config", async () => {
    expect((await raw("GET", "/api/projects")).status).toBe(404);
    const project = await client.createProject({ title: "Strict", label_config: ratingConfig() });
    expect((await raw("POST", `/api/projects/${project.id}/import/`, [])).status).toBe(404);
    const wrongMethod = await raw("PUT", "/api/predictions/", {});
    expect(wrongMethod.status).toBe(405);
    expect((await wrongMethod.json()).detail).toBe('Method "PUT" not allowed.');
    const unknown = await raw("POST", "/api/projects/", {
      title: "Extra",
      label_config: ratingConfig(),
      colour: "red",
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({
      detail: "Validation error",
      validation_errors: { colour: ["Unknown field."] },
    });
    const badConfig = (await client
      .createProject({ title: "Bad config", label_config: "<Rating/>" })
      .catch((e: unknown) => e)) as LabelStudioApiError;
    expect(badConfig.status).toBe(400);
    expect(badConfig.validationErrors).toHaveProperty("label_config");
  });

  it("an import whose data misses a config variable is refused whole", async () => {
    const project = await client.createProject({ title: "Vars", label_config: pairwiseConfig() });
    const refused = await client
      .importTasks(project.id, [
        { data: { prompt: "p", answer1: "a", answer2: "b" } },
        { data: { prompt: "p", answer1: "a" } },
      ])
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400 });
    expect([...ls.state.tasks.values()].filter((t) => t.project === project.id)).toHaveLength(0);
  });

  it("a webhook must name its project", async () => {
    const missing = await raw("POST", "/api/webhooks/", {
      url: "http://127.0.0.1:1/hook",
      actions: ["ANNOTATION_CREATED"],
    });
    expect(missing.status).toBe(404);
    expect((await missing.json()).detail).toBe("Project not found.");
  });
});

describe("Label Studio webhooks", () => {
  let receiver: FakeServer;
  const secret = { header: "X-Loopgate-Token", value: "s3cret-value" };
  const received: (LabelStudioWebhookPayload | LabelStudioWebhookError)[] = [];
  let delayMs = 0;

  beforeAll(async () => {
    receiver = await startFakeServer({
      errorBody: () => ({}),
      handle: async (request) => {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        try {
          received.push(
            verifyLabelStudioWebhook(
              secret,
              request.raw,
              request.headers as Record<string, string>,
            ),
          );
        } catch (error) {
          received.push(error as LabelStudioWebhookError);
        }
        return { status: 200 };
      },
    });
  });
  afterAll(() => receiver.close());

  it("delivers annotation events with the registered header; drops and duplicates on demand", async () => {
    const project = await client.createProject({ title: "Hooks", label_config: ratingConfig() });
    const { taskIds } = await client.importTasks(project.id, ratingTasks(2));
    const hook = await client.createWebhook({
      project: project.id,
      url: `${receiver.url}/hooks/labelstudio`,
      headers: { [secret.header]: secret.value },
      actions: ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"],
    });
    expect((await client.listWebhooks(project.id)).map((w) => w.id)).toEqual([hook.id]);
    const result = [
      { from_name: "rating", to_name: "response", type: "rating", value: { rating: 5 } },
    ];
    const annotation = await ls.annotate(taskIds[0]!, result);
    await ls.updateAnnotation(annotation.id, [{ ...result[0]!, value: { rating: 3 } }]);
    await ls.deleteAnnotation(annotation.id);
    expect(received.map((r) => (r as LabelStudioWebhookPayload).action)).toEqual([
      "ANNOTATION_CREATED",
      "ANNOTATION_UPDATED",
      "ANNOTATIONS_DELETED",
    ]);
    const created = received[0] as LabelStudioWebhookPayload;
    expect(created).toMatchObject({
      annotation: { id: annotation.id },
      task: { id: taskIds[0] },
      project: { id: project.id },
    });
    expect(received[2]).toMatchObject({ annotations: [{ id: annotation.id }] });

    received.length = 0;
    ls.dropDeliveries(1);
    const dropped = await ls.annotate(taskIds[1]!, result);
    expect(received).toHaveLength(0);
    // A dropped delivery is only recoverable by paging: the annotation is there.
    expect((await client.listTaskAnnotations(taskIds[1]!)).map((a) => a.id)).toEqual([dropped.id]);
    ls.duplicateDeliveries(1);
    await ls.updateAnnotation(dropped.id, result);
    expect(received.map((r) => (r as LabelStudioWebhookPayload).action)).toEqual([
      "ANNOTATION_UPDATED",
      "ANNOTATION_UPDATED",
    ]);
  });

  it("gives up on a receiver slower than 1 s without retrying", async () => {
    const project = await client.createProject({
      title: "Slow hooks",
      label_config: ratingConfig(),
    });
    const { taskIds } = await client.importTasks(project.id, ratingTasks(1));
    const hook = await client.createWebhook({
      project: project.id,
      url: `${receiver.url}/slow`,
      headers: { [secret.header]: secret.value },
      actions: ["ANNOTATION_CREATED"],
    });
    delayMs = 1500;
    try {
      await ls.annotate(taskIds[0]!, [
        { from_name: "rating", to_name: "response", type: "rating", value: { rating: 1 } },
      ]);
    } finally {
      delayMs = 0;
    }
    const attempts = ls.state.deliveries.filter((d) => d.webhook === hook.id);
    expect(attempts).toEqual([{ webhook: hook.id, action: "ANNOTATION_CREATED", status: 0 }]);
  });

  it("verification refuses a missing or wrong header", () => {
    const body = JSON.stringify({ action: "ANNOTATION_CREATED" });
    expect(verifyLabelStudioWebhook(secret, body, { "x-loopgate-token": secret.value })).toEqual({
      action: "ANNOTATION_CREATED",
    });
    expect(() => verifyLabelStudioWebhook(secret, body, {})).toThrow(LabelStudioWebhookError);
    expect(() =>
      verifyLabelStudioWebhook(secret, body, { "x-loopgate-token": "s3cret-valuE" }),
    ).toThrow(LabelStudioWebhookError);
    expect(() =>
      verifyLabelStudioWebhook(secret, body, new Headers({ "X-Loopgate-Token": "s3cret" })),
    ).toThrow(LabelStudioWebhookError);
    expect(() =>
      verifyLabelStudioWebhook(secret, "not json", { "x-loopgate-token": secret.value }),
    ).toThrow(/JSON/);
  });
});
