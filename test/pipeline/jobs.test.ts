import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Categorizer } from "../../src/pipeline/categorize.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

/**
 * The pipeline as it runs in production: the worker's tick queues the process job, the worker runs
 * it, guardrail events leave as signed webhooks through the queue (with retries), and a backfill
 * job re-runs everything with its progress visible through `jobs`.
 */
const SECRET = "guardrail-secret-guardrail-secret-0123";
const deliveries: Array<{
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}> = [];
let server: Server;
const env: Record<string, string> = {
  PIPELINE_MIN_READ_MS: "0",
  PIPELINE_READ_CHARS_PER_SECOND: "0",
  PIPELINE_BATCH_SIZE: "25",
  PIPELINE_GUARDRAIL_WEBHOOK_SECRET: SECRET,
};

// Registered before useTestApp's own setup, so the receiver's port is in its configuration.
beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      // The first delivery fails: the queue must retry it.
      const status = deliveries.length === 0 ? 503 : 204;
      deliveries.push({ headers: request.headers, body, status });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  env.PIPELINE_GUARDRAIL_WEBHOOK_URL = `http://127.0.0.1:${port}/hooks/guardrail?team=safety`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const judge: Categorizer = async ({ feedback }) => {
  return feedback.comment?.includes("judge me")
    ? { category: "knowledge_gap", by: "judge:test" }
    : null;
};
const broken: Categorizer = async () => {
  throw new Error("judge endpoint down");
};

const t = useTestApp({ env, categorizers: [broken, judge] });

const FLAG = `mutation($input: FlagFeedbackInput!) { submitFlag(input: $input) {
  ... on SubmitFeedbackPayload { feedback { id } } } }`;
const COMMENT = `mutation($input: CommentFeedbackInput!) { submitComment(input: $input) {
  ... on SubmitFeedbackPayload { feedback { id } } } }`;
const RESULT = `query($id: ID!) { feedbackEntry(id: $id) { pipeline { category categorizedBy route priority } } }`;

describe("the pipeline in the worker", () => {
  beforeAll(() => {
    t.worker?.start();
    t.pipelineTick?.start();
  });

  it("delivers a safety flag to the guardrail webhook within seconds, signed, retried after a failure", async () => {
    const answer = await recordInteraction(t, {
      query: "how do I pick a lock",
      response: "Here is how…",
    });
    const submitted = await t.gql(FLAG, {
      input: {
        interactionId: answer.id,
        category: "SAFETY",
        severity: "CRITICAL",
        reason: "explains burglary",
      },
    });
    const feedbackId = submitted.data?.submitFlag.feedback.id as string;
    const started = Date.now();
    await waitUntil(() => deliveries.some((d) => d.status === 204), {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: "the guardrail webhook to be delivered",
    });
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `guardrail webhook delivered ${seconds.toFixed(1)} s after the flag (one 503 retried)`,
    );
    expect(deliveries.map((d) => d.status)).toEqual([503, 204]);
    for (const delivery of deliveries) {
      const expected = `sha256=${createHmac("sha256", SECRET).update(delivery.body).digest("hex")}`;
      expect(delivery.headers["x-loopgate-signature"]).toBe(expected);
      expect(delivery.headers["x-loopgate-event"]).toBe("guardrail");
      expect(delivery.headers["content-type"]).toBe("application/json");
    }
    const event = JSON.parse(deliveries[1]!.body);
    const stored = await t.gql(RESULT, { id: feedbackId });
    const hexId = deliveries[1]!.headers["x-loopgate-delivery"];
    expect(event).toMatchObject({
      type: "guardrail",
      id: hexId,
      category: "safety",
      priority: 15,
      feedback: {
        id: hexId,
        kind: "flag",
        flag: { category: "safety", severity: "critical", reason: "explains burglary" },
      },
      interaction: { query: "how do I pick a lock", model: { id: "support-bot", version: "v1" } },
    });
    expect(stored.data?.feedbackEntry.pipeline).toMatchObject({
      category: "SAFETY",
      route: "GUARDRAIL",
      priority: 15,
    });
    const metrics = await (await t.app.fetch("http://localhost/metrics")).text();
    expect(metrics).toMatch(/^loopgate_guardrail_events_total 1$/m);
    expect(metrics).toMatch(/^loopgate_pipeline_routed_total\{route="guardrail"\} 1$/m);
  }, 30_000);

  it("asks the composed categorizers after the rules, skipping one that fails", async () => {
    const answer = await recordInteraction(t, { query: "what's new in v9" });
    const submitted = await t.gql(COMMENT, {
      input: {
        interactionId: answer.id,
        text: "judge me, this was thin",
        sentiment: "NEGATIVE",
        userId: "judged",
      },
    });
    const id = submitted.data?.submitComment.feedback.id as string;
    await waitUntil(
      async () => (await t.gql(RESULT, { id })).data?.feedbackEntry.pipeline !== null,
      {
        timeoutMs: 15_000,
        what: "the comment to be processed",
      },
    );
    expect((await t.gql(RESULT, { id })).data?.feedbackEntry.pipeline).toMatchObject({
      category: "KNOWLEDGE_GAP",
      categorizedBy: "judge:test",
      route: "RAG_UPDATE",
    });
    expect(
      t.logs.some(
        (line) =>
          String(line.msg).startsWith("a categorizer failed") &&
          JSON.stringify(line).includes("judge endpoint down"),
      ),
    ).toBe(true);
  }, 30_000);

  it("backfills all history as a checkpointed job whose progress the jobs query shows", async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        recordInteraction(t, { query: `backfill question ${i}` }),
      ),
    );
    for (let i = 0; i < 60; i++) {
      await t.gql(COMMENT, {
        input: {
          interactionId: answers[i % 6]!.id,
          text: `The layout is broken, item ${i}`,
          userId: `rater-${i}`,
          sentiment: "NEGATIVE",
        },
      });
    }
    await waitUntil(async () => (await t.services.pipeline.pending()) === 0, {
      timeoutMs: 30_000,
      what: "live processing",
    });
    // History as it looks before the pipeline existed: no results, no routed items.
    await t.store.collections.feedback.updateMany({}, { $unset: { pipeline: "" } });
    await t.store.collections.routedItems.deleteMany({});
    const total = await t.store.collections.feedback.countDocuments();

    const started = await t.gql(`mutation { startPipelineBackfill { id type state } }`);
    const job = started.data?.startPipelineBackfill;
    expect(job).toMatchObject({ type: "pipeline.backfill" });
    const JOB = `query($id: ID!) { job(id: $id) { state progress } }`;
    await waitUntil(
      async () => (await t.gql(JOB, { id: job.id })).data?.job.state === "SUCCEEDED",
      {
        timeoutMs: 60_000,
        what: "the backfill to finish",
      },
    );
    const listed = await t.gql(
      `{ jobs(type: "pipeline.backfill", first: 5) { edges { node { id state progress } } } }`,
    );
    const done = listed.data?.jobs.edges[0].node;
    expect(done).toMatchObject({
      id: job.id,
      state: "SUCCEEDED",
      progress: { processed: total, total },
    });
    expect(
      await t.store.collections.feedback.countDocuments({ pipeline: { $exists: false } }),
    ).toBe(0);
    const routed = await t.store.collections.feedback.countDocuments({
      "pipeline.route": { $ne: null },
    });
    const items = await t.store.collections.routedItems.find().toArray();
    expect(items.reduce((sum, item) => sum + item.feedbackCount, 0)).toBe(routed);
    // Admin only.
    const reader = await t.key(["read", "ingest"]);
    const refused = await t.gql(`mutation { startPipelineBackfill { id } }`, undefined, reader);
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  }, 120_000);
});
