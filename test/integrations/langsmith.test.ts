import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLangSmithAdapter,
  type LangSmithAdapter,
  LangSmithApiError,
} from "../../src/integrations/langsmith/client.js";
import { type FakeLangSmith, startFakeLangSmith } from "../fakes/langsmith.js";

let fake: FakeLangSmith;
let langsmith: LangSmithAdapter;
const sleeps: number[] = [];

beforeAll(async () => {
  fake = await startFakeLangSmith();
  langsmith = createLangSmithAdapter({
    apiUrl: fake.url,
    apiKey: fake.apiKey,
    sleep: async (ms) => void sleeps.push(ms),
  });
});
afterAll(() => fake.close());

function projectWithRun(name: string) {
  const project = fake.addProject(name);
  const run = fake.addRun(project, {
    start_time: "2026-11-27T10:00:00.000Z",
    inputs: { question: "q" },
    outputs: { answer: "a" },
  });
  return { project, run };
}

describe("LangSmith through the official SDK against the fake", () => {
  it("pushes feedback onto the run with its project id, our id and source info", async () => {
    const { project, run } = projectWithRun("push");
    const feedbackId = randomUUID();
    const result = await langsmith.pushFeedback({
      feedbackId,
      runId: run.id,
      projectId: project.id,
      runStartTime: run.start_time,
      key: "helpfulness",
      score: 0,
      value: "thumbs_down",
      comment: "Menu moved",
      correction: { answer: "Settings > Security" },
      sourceInfo: { annotator: "user:pseudonym" },
    });
    expect(result).toEqual({ created: true });
    const stored = fake.state.feedback.get(feedbackId)!;
    expect(stored).toMatchObject({
      run_id: run.id,
      session_id: project.id,
      key: "helpfulness",
      score: 0,
      value: "thumbs_down",
      comment: "Menu moved",
      correction: { answer: "Settings > Security" },
      feedback_source: {
        type: "api",
        metadata: { annotator: "user:pseudonym", loopgate_feedback_id: feedbackId },
      },
    });
    // Pushing feedback must not silently upgrade the trace to extended (billed) retention.
    expect(fake.state.feedbackBodies.find((b) => b.id === feedbackId)).toMatchObject({
      extend_trace_retention: false,
      session_id: project.id,
      start_time: run.start_time,
    });
    const post = fake.server.requests.find((r) => r.method === "POST" && r.path === "/feedback")!;
    expect(post.headers["x-api-key"]).toBe(fake.apiKey);
  });

  it("a replayed push converges on the same feedback instead of duplicating it", async () => {
    const { project, run } = projectWithRun("replay");
    const feedbackId = randomUUID();
    const input = { feedbackId, runId: run.id, projectId: project.id, key: "rating", score: 2 };
    await langsmith.pushFeedback(input);
    expect(await langsmith.pushFeedback({ ...input, score: 4, comment: "revised" })).toEqual({
      created: false,
    });
    const forRun = [...fake.state.feedback.values()].filter((f) => f.run_id === run.id);
    expect(forRun).toHaveLength(1);
    expect(forRun[0]).toMatchObject({ score: 4, comment: "revised" });
  });

  it("reads LangSmith's own feedback back, by run and source, across pages", async () => {
    const { project, run } = projectWithRun("pull");
    for (let i = 0; i < 230; i++)
      fake.addFeedback({
        run_id: run.id,
        key: "correctness",
        score: i % 2,
        feedback_source: { type: "app", metadata: {}, user_id: null },
      });
    fake.addFeedback({
      run_id: run.id,
      key: "judge",
      score: 1,
      feedback_source: { type: "model", metadata: {}, user_id: null },
    });
    const pulled = [];
    for await (const feedback of langsmith.listFeedback({ runIds: [run.id], sourceTypes: ["app"] }))
      pulled.push(feedback);
    expect(pulled).toHaveLength(230);
    expect(new Set(pulled.map((f) => f.id)).size).toBe(230);
    expect(
      pulled.every((f) => f.feedback_source?.type === "app" && f.session_id === project.id),
    ).toBe(true);
  });

  it("finds projects by name", async () => {
    const { project } = projectWithRun("named-project");
    expect(await langsmith.findProject("named-project")).toEqual({
      id: project.id,
      name: "named-project",
    });
    expect(await langsmith.findProject("no-such-project")).toBeUndefined();
  });

  it("pages a project's root runs in a time window, resumable from a cursor", async () => {
    const project = fake.addProject("import-runs");
    const base = Date.parse("2026-11-20T00:00:00Z");
    for (let i = 0; i < 250; i++)
      fake.addRun(project, {
        start_time: new Date(base + i * 60_000).toISOString(),
        inputs: { i },
      });
    fake.addRun(project, { start_time: "2026-11-01T00:00:00.000Z" });
    const root = [...fake.state.runs.values()].find((r) => r.session_id === project.id)!;
    fake.addRun(project, {
      start_time: new Date(base + 5_000).toISOString(),
      parent_run_ids: [root.id],
    });
    const window = {
      projectId: project.id,
      from: new Date(base),
      to: new Date(base + 86_400_000),
      pageSize: 100,
    };
    const first = await langsmith.queryRuns(window);
    expect(first.runs).toHaveLength(100);
    expect(first.runs[0]).toMatchObject({ project_id: project.id, inputs: { i: 0 } });
    expect(first.nextCursor).toBeDefined();
    // A sync that crashed here resumes from the stored cursor.
    const seen = [...first.runs];
    let cursor = first.nextCursor;
    while (cursor) {
      const next = await langsmith.queryRuns({ ...window, cursor });
      seen.push(...next.runs);
      cursor = next.nextCursor;
    }
    expect(seen).toHaveLength(250);
    expect(new Set(seen.map((r) => r.id)).size).toBe(250);
    const v2 = fake.server.requests.filter((r) => r.path === "/api/v2/runs/query");
    expect(v2).toHaveLength(3);
  });

  it("pushes dataset examples once (multipart upload), skipping ids already there", async () => {
    const dataset = await langsmith.ensureDataset("loopgate-sft", "Curated SFT snapshot");
    expect(await langsmith.ensureDataset("loopgate-sft")).toEqual(dataset);
    const examples = Array.from({ length: 150 }, (_, i) => ({
      id: randomUUID(),
      inputs: { prompt: `p${i}` },
      outputs: { completion: `c${i}` },
      metadata: { snapshot: "v1" },
    }));
    expect(await langsmith.pushExamples(dataset.id, examples)).toBe(150);
    const more = [
      ...examples,
      ...Array.from({ length: 10 }, (_, i) => ({ id: randomUUID(), inputs: { prompt: `n${i}` } })),
    ];
    expect(await langsmith.pushExamples(dataset.id, more)).toBe(10);
    const stored = [...fake.state.examples.values()].filter((e) => e.dataset_id === dataset.id);
    expect(stored).toHaveLength(160);
    expect(stored.find((e) => e.id === examples[0]!.id)).toMatchObject({
      inputs: { prompt: "p0" },
      outputs: { completion: "c0" },
    });
    const uploads = fake.server.requests.filter(
      (r) => r.path.endsWith("/examples") && r.method === "POST",
    );
    expect(
      uploads.every((r) => String(r.headers["content-type"]).startsWith("multipart/form-data")),
    ).toBe(true);
  });

  it("mirrors feedback configs; a conflicting config is refused", async () => {
    await langsmith.ensureFeedbackConfig("rating", { type: "continuous", min: 1, max: 5 });
    await langsmith.ensureFeedbackConfig("rating", { type: "continuous", min: 1, max: 5 });
    await langsmith.ensureFeedbackConfig(
      "toxicity",
      {
        type: "categorical",
        categories: [
          { value: 0, label: "no" },
          { value: 1, label: "yes" },
        ],
      },
      true,
    );
    const configs = await langsmith.listFeedbackConfigs();
    expect(configs.map((c) => c.key).sort()).toEqual(["rating", "toxicity"]);
    expect(configs.find((c) => c.key === "toxicity")!.isLowerScoreBetter).toBe(true);
    const conflict = await langsmith
      .ensureFeedbackConfig("rating", { type: "freeform" })
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(LangSmithApiError);
    expect((conflict as LangSmithApiError).status).toBe(400);
  });

  it("works with an apiUrl ending in /api/v1, as self-hosted and regional URLs are often given", async () => {
    const prefixed = createLangSmithAdapter({ apiUrl: `${fake.url}/api/v1`, apiKey: fake.apiKey });
    const { project, run } = projectWithRun("prefixed");
    const feedbackId = randomUUID();
    await prefixed.pushFeedback({
      feedbackId,
      runId: run.id,
      projectId: project.id,
      key: "k",
      score: true,
    });
    expect(fake.state.feedback.get(feedbackId)?.score).toBe(true);
    const { runs } = await prefixed.queryRuns({
      projectId: project.id,
      from: new Date("2026-11-27T00:00:00Z"),
      to: new Date("2026-11-28T00:00:00Z"),
    });
    expect(runs.map((r) => r.id)).toEqual([run.id]);
    const dataset = await prefixed.ensureDataset("prefixed-dataset");
    expect(
      await prefixed.pushExamples(dataset.id, [{ id: randomUUID(), inputs: { prompt: "p" } }]),
    ).toBe(1);
    const paths = new Set(
      fake.server.requests.slice(-8).map((r) => r.path.replace(/[0-9a-f-]{36}/g, ":id")),
    );
    expect(paths).toContain("/api/v1/platform/datasets/:id/examples");
    // The ids are looked up before the upload (no read-back of each example afterwards).
    expect(paths).toContain("/api/v1/examples");
  });

  it("respects 429 Retry-After on a push", async () => {
    const { project, run } = projectWithRun("throttled");
    sleeps.length = 0;
    fake.server.inject({
      fault: { kind: "status", status: 429, retryAfter: "2" },
      times: 1,
      method: "POST",
      path: "/feedback",
    });
    const feedbackId = randomUUID();
    await langsmith.pushFeedback({
      feedbackId,
      runId: run.id,
      projectId: project.id,
      key: "k",
      score: 1,
    });
    expect(sleeps).toEqual([2000]);
    expect(fake.state.feedback.has(feedbackId)).toBe(true);
  });
});

describe("the LangSmith fake refuses what LangSmith refuses", () => {
  const raw = (method: string, path: string, body: unknown, key = fake.apiKey) =>
    fetch(`${fake.url}${path}`, {
      method,
      headers: { "x-api-key": key, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("a wrong API key", async () => {
    const bad = createLangSmithAdapter({ apiUrl: fake.url, apiKey: "lsv2_wrong" });
    const error = (await bad.findProject("x").catch((e: unknown) => e)) as LangSmithApiError;
    expect(error).toBeInstanceOf(LangSmithApiError);
    expect(error.status).toBe(401);
  });

  it("feedback without id or source, with a bare-number value, with unknown fields, or run-level without session", async () => {
    const { project, run } = projectWithRun("strict");
    const valid = {
      id: randomUUID(),
      run_id: run.id,
      session_id: project.id,
      key: "k",
      feedback_source: { type: "api", metadata: {} },
    };
    expect((await raw("POST", "/api/v1/feedback", valid)).status).toBe(200);
    expect((await raw("POST", "/feedback", { ...valid, id: undefined })).status).toBe(422);
    expect(
      (await raw("POST", "/feedback", { ...valid, id: randomUUID(), feedback_source: undefined }))
        .status,
    ).toBe(422);
    expect((await raw("POST", "/feedback", { ...valid, id: randomUUID(), value: 3 })).status).toBe(
      422,
    );
    expect(
      (await raw("POST", "/feedback", { ...valid, id: randomUUID(), colour: "red" })).status,
    ).toBe(422);
    expect(
      (await raw("POST", "/feedback", { ...valid, id: randomUUID(), session_id: undefined }))
        .status,
    ).toBe(400);
    expect((await raw("POST", "/feedback", valid)).status).toBe(409);
    expect((await raw("PUT", "/feedback", valid)).status).toBe(405);
  });
});
