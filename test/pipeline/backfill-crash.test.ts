import { beforeAll, describe, expect, it } from "vitest";
import type { FeedbackDoc, RoutedItemDoc } from "../../src/store/documents.js";
import type { JobDoc } from "../../src/store/job-doc.js";
import { pipelineCorpus } from "../support/pipeline-corpus.js";
import { waitUntil } from "../support/poll.js";
import { useGatewayProcesses } from "../support/process.js";

/**
 * The scenario: a backfill over a seeded history runs in a real gateway process against a
 * separately running store; the process is killed with SIGKILL midway. A new process resumes the
 * job from its checkpoint after the lease expires, and the end state is that of one run: every
 * feedback processed, every routed feedback counted once.
 */
const ADMIN_KEY = "backfill-crash-admin-key-0123456789abcdef";
const FEEDBACK = 3_000;

async function gql(url: string, query: string, variables?: unknown) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown };
}

describe("a backfill whose worker is killed", () => {
  const gateways = useGatewayProcesses("backfill");
  const db = gateways.db;
  const env = {
    LOOPGATE_SECRET: "backfill-secret-backfill-secret-0123456",
    LOOPGATE_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    PIPELINE_BATCH_SIZE: "50",
    JOBS_LEASE_MS: "3000",
    JOBS_POLL_MS: "100",
  };

  beforeAll(async () => {
    const corpus = pipelineCorpus(FEEDBACK);
    await db.collection("interactions").insertMany(corpus.interactions);
    await db.collection("feedback").insertMany(corpus.feedback);
  });

  it("resumes from its checkpoint and ends as one run would", async () => {
    let gateway = await gateways.start(env);
    const started = await gql(gateway.url, "mutation { startPipelineBackfill { id } }");
    const jobId = started.data.startPipelineBackfill.id as string;
    const jobs = db.collection<JobDoc>("jobs");
    const progress = async () =>
      (await jobs.findOne({ type: "pipeline.backfill" }))?.progress as {
        processed: number;
        total: number;
      } | null;
    await waitUntil(async () => ((await progress())?.processed ?? 0) >= 600, {
      timeoutMs: 90_000,
      intervalMs: 50,
      what: "the backfill to get going",
    });
    gateway.child.kill("SIGKILL");
    await gateway.exited;
    const atKill = await progress();
    expect(atKill!.processed).toBeLessThan(FEEDBACK);
    expect(atKill!.total).toBe(FEEDBACK);

    gateway = await gateways.start(env);
    const JOB = `query($id: ID!) { job(id: $id) { state progress attempts { outcome } } }`;
    await waitUntil(
      async () => (await gql(gateway.url, JOB, { id: jobId })).data?.job.state === "SUCCEEDED",
      {
        timeoutMs: 180_000,
        intervalMs: 250,
        what: "the resumed backfill to finish",
      },
    );
    const job = (await gql(gateway.url, JOB, { id: jobId })).data.job;
    expect(job.attempts.map((a: { outcome: string }) => a.outcome)).toEqual([
      "LEASE_EXPIRED",
      "SUCCEEDED",
    ]);
    // Resumed, not restarted: the checkpoint counts each feedback once.
    expect(job.progress).toMatchObject({ processed: FEEDBACK, total: FEEDBACK });

    const feedback = db.collection<FeedbackDoc>("feedback");
    expect(await feedback.countDocuments({ pipeline: { $exists: false } })).toBe(0);
    const routed = await feedback.countDocuments({ "pipeline.route": { $ne: null } });
    expect(routed).toBeGreaterThan(100);
    const items = await db.collection<RoutedItemDoc>("routedItems").find().toArray();
    expect(items.reduce((sum, item) => sum + item.feedbackCount, 0)).toBe(routed);
    // The corpus's crawler, flooder and double submissions were recognised.
    expect(
      await feedback.countDocuments({ "pipeline.filtered.reason": "bot_user_agent" }),
    ).toBeGreaterThan(0);
    expect(
      await feedback.countDocuments({ "pipeline.duplicateOf": { $exists: true } }),
    ).toBeGreaterThan(0);
    gateway.child.kill("SIGTERM");
    await gateway.exited;
  }, 300_000);
});
