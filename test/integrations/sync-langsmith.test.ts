import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import { langsmithFeedbackId } from "../../src/integrations/sync/langsmith-sync.js";
import { type FakeLangSmith, type LsmProject, startFakeLangSmith } from "../fakes/langsmith.js";
import { useTestApp } from "../support/app.js";
import { syncAndWait } from "./sync-support.js";

/**
 * LangSmith both ways through the official SDK against the fake, with faults on: runs imported as
 * interactions once, LangSmith feedback pulled once with the right source, Loopgate feedback
 * pushed once per feedback id (and never echoed back), feedback configs mirrored both ways.
 */
let fake: FakeLangSmith;
let project: LsmProject;
const env: Record<string, string> = {};
const RUNS = 30;

beforeAll(async () => {
  fake = await startFakeLangSmith();
  project = fake.addProject("support-prod");
  const start = Date.now() - 3_600_000;
  for (let index = 0; index < RUNS; index++)
    fake.addRun(project, {
      start_time: new Date(start + index * 60_000).toISOString(),
      inputs: { question: `How do I rotate key ${index}?` },
      outputs: { answer: `Use the console, step ${index}.` },
      extra: { metadata: { ls_model_name: "gpt-support", ls_model_version: "2026-10" } },
    });
  // A child run is not an interaction of its own.
  const [root] = fake.state.runs.values();
  fake.addRun(project, { start_time: root!.start_time, parent_run_ids: [root!.id] });
  fake.state.feedbackConfigs.set("correctness", {
    feedback_key: "correctness",
    feedback_config: { type: "continuous", min: 0, max: 1 },
    tenant_id: "t",
    modified_at: new Date().toISOString(),
    is_lower_score_better: false,
  });
  Object.assign(env, {
    LANGSMITH_API_KEY: fake.apiKey,
    LANGSMITH_ENDPOINT: fake.url,
    LANGSMITH_PROJECT: project.name,
    INTEGRATIONS_HTTP_TIMEOUT_MS: "2000",
    JOBS_POLL_MS: "50",
  });
});

// Ahead of the wall clock, so the push's settle window (feedback younger than 5 s waits) has passed.
const testApp = useTestApp({ env, clock: { now: () => new Date(Date.now() + 10_000) } });

beforeAll(() => {
  testApp.worker?.start();
});

afterAll(async () => {
  await testApp.worker?.stop(5_000);
  await fake.close();
});

describe("LangSmith sync", { timeout: 120_000 }, () => {
  it("imports the project's root runs as interactions once, and their LangSmith feedback with the right source", async () => {
    const runs = [...fake.state.runs.values()].filter((run) => run.parent_run_ids.length === 0);
    const [a, b, c] = runs;
    fake.addFeedback({
      run_id: a!.id,
      key: "correctness",
      score: 0.25,
      feedback_source: { type: "app", metadata: {}, user_id: "reviewer-1" },
    });
    fake.addFeedback({
      run_id: b!.id,
      key: "helpfulness",
      score: true,
      feedback_source: { type: "model", metadata: {}, user_id: null },
    });
    fake.addFeedback({
      run_id: c!.id,
      key: "user_comment",
      comment: "Too vague",
      feedback_source: { type: "api", metadata: {}, user_id: null },
    });
    fake.server.inject({
      fault: { kind: "status", status: 429, retryAfter: "1" },
      times: 1,
      method: "POST",
      path: "/runs/query",
    });
    fake.server.inject({
      fault: { kind: "status", status: 503 },
      times: 1,
      method: "GET",
      path: "/feedback",
    });

    await syncAndWait(testApp, "langsmith", "pull");
    await syncAndWait(testApp, "langsmith", "pull");

    const imported = await testApp.store.collections.interactions
      .find({ "trace.provider": "langsmith" })
      .toArray();
    expect(imported).toHaveLength(RUNS);
    expect(new Set(imported.map((i) => i.trace?.runId))).toEqual(new Set(runs.map((r) => r.id)));
    expect(
      imported.every((i) => i.trace?.projectId === project.id && i.model.id === "gpt-support"),
    ).toBe(true);
    expect(imported.find((i) => i.trace?.runId === a!.id)?.query).toBe("How do I rotate key 0?");

    const pulled = await testApp.store.collections.feedback
      .find({ submittedBy: "integration:langsmith" })
      .toArray();
    expect(pulled).toHaveLength(3);
    const byKey = new Map(pulled.map((f) => [f.key, f]));
    expect(byKey.get("correctness")).toMatchObject({
      source: "expert",
      kind: "rating",
      annotatorId: "langsmith:reviewer-1",
    });
    expect(byKey.get("correctness")?.rating?.score).toBe(0.25);
    expect(byKey.get("helpfulness")).toMatchObject({ source: "llm_judge", kind: "binary" });
    expect(byKey.get("user_comment")).toMatchObject({ source: "user", kind: "comment" });
    // The continuous config became a declared key with its range.
    expect(await testApp.services.keys.get("correctness")).toMatchObject({
      kind: "rating",
      rating: { min: 0, max: 1, integer: false },
    });

    const queries = fake.server.requests.filter((r) => r.path.endsWith("/runs/query"));
    const refused = queries.findIndex((r) => r.status === 429);
    expect(queries[refused + 1]!.at - queries[refused]!.at).toBeGreaterThanOrEqual(950);
  });

  it("pushes Loopgate feedback to the runs once each, with our id as LangSmith's, and mirrors our keys as configs", async () => {
    await testApp.services.keys.define({
      key: "stars",
      kind: "rating",
      rating: { min: 1, max: 5, integer: true },
    });
    const interactions = await testApp.store.collections.interactions
      .find({ "trace.provider": "langsmith" })
      .toArray();
    const actor = systemActor("test");
    const ours: string[] = [];
    for (const [index, interaction] of interactions.entries()) {
      const id = interaction._id.toHexString();
      const result =
        index % 3 === 0
          ? await testApp.services.feedback.submit(
              {
                kind: "binary",
                input: { interactionId: id, positive: index % 2 === 0, userId: `u${index}` },
              },
              actor,
            )
          : index % 3 === 1
            ? await testApp.services.feedback.submit(
                {
                  kind: "rating",
                  input: { interactionId: id, key: "stars", score: 1 + (index % 5), comment: "ok" },
                },
                actor,
              )
            : await testApp.services.feedback.submit(
                {
                  kind: "correction",
                  input: {
                    interactionId: id,
                    correctedResponse: `Rotate in Settings (${index})`,
                    source: "expert",
                    annotatorId: "ann-1",
                  },
                },
                actor,
              );
      ours.push(result.feedback._id.toHexString());
    }
    // Feedback on an interaction LangSmith does not know stays home.
    const { interaction: local } = await testApp.services.interactions.record({
      query: "q",
      response: "r",
      model: { id: "m", version: "1" },
    });
    await testApp.services.feedback.submit(
      { kind: "binary", input: { interactionId: local._id.toHexString(), positive: true } },
      actor,
    );

    const before = fake.state.feedback.size;
    fake.server.inject({
      fault: { kind: "status", status: 503 },
      times: 2,
      method: "POST",
      path: "/feedback",
    });
    fake.server.inject({
      fault: { kind: "status", status: 429, retryAfter: "1" },
      times: 1,
      method: "POST",
      path: "/feedback",
    });
    await syncAndWait(testApp, "langsmith", "push");
    await syncAndWait(testApp, "langsmith", "push");

    expect(fake.state.feedback.size - before).toBe(ours.length);
    for (const [index, id] of ours.entries()) {
      const pushed = fake.state.feedback.get(langsmithFeedbackId(id));
      expect(pushed, `feedback ${id}`).toBeDefined();
      expect(pushed!.run_id).toBe(interactions[index]!.trace?.runId);
      expect(pushed!.session_id).toBe(project.id);
    }
    const stars = [...fake.state.feedback.values()].find((f) => f.key === "stars");
    expect(typeof stars?.score).toBe("number");
    expect(fake.state.feedbackConfigs.get("stars")?.feedback_config).toMatchObject({
      type: "continuous",
      min: 1,
      max: 5,
    });
    const correction = [...fake.state.feedback.values()].find(
      (f) => f.correction !== null && f.key === "correction",
    );
    expect(correction?.feedback_source.metadata).toMatchObject({
      loopgate_source: "expert",
      annotator_id: "ann-1",
    });

    // Pulling again brings none of our own feedback back.
    const pulledBefore = await testApp.store.collections.feedback.countDocuments({
      submittedBy: "integration:langsmith",
    });
    await syncAndWait(testApp, "langsmith", "pull");
    expect(
      await testApp.store.collections.feedback.countDocuments({
        submittedBy: "integration:langsmith",
      }),
    ).toBe(pulledBefore);
  });
});
