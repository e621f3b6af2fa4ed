import { type Collection, ObjectId } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import {
  DATASET_PUSH_JOB,
  type DatasetPushProgress,
  exampleIdOf,
} from "../../src/integrations/sync/langsmith-datasets.js";
import { jobCatalog } from "../../src/job-catalog.js";
import { createJobQueue } from "../../src/jobs/queue.js";
import type { DatasetRowDoc, DatasetSnapshotDoc } from "../../src/store/dataset-docs.js";
import type { JobDoc } from "../../src/store/job-doc.js";
import { type FakeLangSmith, startFakeLangSmith } from "../fakes/langsmith.js";
import { waitUntil } from "../support/poll.js";
import { useGatewayProcesses } from "../support/process.js";

/**
 * A gateway killed with SIGKILL in the middle of pushing a dataset snapshot to LangSmith, and
 * started again on the same store: the push job resumes from its checkpoint and the dataset ends
 * with exactly one example per row — none lost, none doubled.
 */
const ROWS = 1_000;

describe("a dataset push killed mid-way", () => {
  const gateways = useGatewayProcesses("dspushcrash");
  const db = gateways.db;
  let fake: FakeLangSmith;
  let env: Record<string, string>;
  const snapshotId = new ObjectId();

  beforeAll(async () => {
    fake = await startFakeLangSmith();
    const now = new Date();
    const snapshot: DatasetSnapshotDoc = {
      _id: snapshotId,
      kind: "sft",
      version: 1,
      filter: { until: now },
      filterId: "0".repeat(64),
      options: {
        style: "standard",
        evalFraction: 0.1,
        seed: 0,
        excludeUsed: false,
        balanceBy: [],
        highRating: 0.75,
        lowRating: 0.25,
        minScoreGap: 0.5,
        minStrength: 0.5,
      },
      state: "ready",
      counts: null,
      heldOut: { keys: [], batches: [] },
      sha256: null,
      progress: null,
      error: null,
      jobId: null,
      createdAt: now,
      createdBy: "test",
      finishedAt: now,
    };
    await db.collection<DatasetSnapshotDoc>("datasetSnapshots").insertOne(snapshot);
    const rows: DatasetRowDoc[] = Array.from({ length: ROWS }, (_, index) => {
      const split = index % 10 === 0 ? "eval" : "train";
      return {
        _id: `${snapshotId.toHexString()}:${split}:${String(index).padStart(10, "0")}`,
        snapshotId,
        split,
        ordinal: index,
        line: JSON.stringify({ prompt: `question ${index}`, completion: `answer ${index}` }),
        feedbackIds: [new ObjectId()],
        source: "correction",
      };
    });
    await db.collection<DatasetRowDoc>("datasetRows").insertMany(rows);
    // Queued as the mutation queues it, before the gateway starts.
    const queue = createJobQueue({
      collection: db.collection("jobs") as unknown as Collection<JobDoc>,
      clock: systemClock,
      types: jobCatalog.types,
      keepFinishedMs: 3_600_000,
    });
    await queue.enqueue(
      DATASET_PUSH_JOB,
      { snapshotId: snapshotId.toHexString(), datasetName: "crash-sft" },
      { key: `${DATASET_PUSH_JOB}:${snapshotId.toHexString()}` },
    );
    env = {
      LOOPGATE_SECRET: "dataset-crash-secret-dataset-crash-0123",
      LANGSMITH_API_KEY: fake.apiKey,
      LANGSMITH_ENDPOINT: fake.url,
      INTEGRATIONS_SYNC_SECONDS: "3600",
      JOBS_LEASE_MS: "2000",
      JOBS_POLL_MS: "50",
    };
  });
  afterAll(async () => {
    await fake.close();
  });

  it("resumes after SIGKILL and ends with exactly one example per row", async () => {
    // Slow uploads, so the kill lands in the middle of the push.
    fake.server.inject({
      fault: { kind: "delay", ms: 300 },
      times: 1_000,
      method: "POST",
      path: /\/platform\/datasets\/.+\/examples$/,
    });
    const first = await gateways.start(env);
    await waitUntil(() => fake.state.examples.size >= 300, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: "the push to be under way",
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const atKill = fake.state.examples.size;
    expect(atKill).toBeLessThan(ROWS);

    await gateways.start(env);
    const jobs = db.collection<JobDoc>("jobs");
    let job: JobDoc | null = null;
    await waitUntil(
      async () => {
        job = await jobs.findOne({ type: DATASET_PUSH_JOB });
        if (job?.state === "dead") throw new Error(`push died: ${JSON.stringify(job.lastError)}`);
        return job?.state === "succeeded";
      },
      { timeoutMs: 90_000, intervalMs: 200, what: "the push to finish after the restart" },
    );
    const done = job as unknown as JobDoc;
    expect(done.attempts).toBeGreaterThanOrEqual(2);

    const examples = [...fake.state.examples.values()];
    expect(examples).toHaveLength(ROWS);
    const rows = await db
      .collection<DatasetRowDoc>("datasetRows")
      .find({ snapshotId }, { sort: { _id: 1 } })
      .toArray();
    expect(new Set(examples.map((e) => e.id))).toEqual(
      new Set(rows.map((row) => exampleIdOf(snapshotId, row._id))),
    );
    expect(examples.filter((e) => e.metadata?.dataset_split?.toString() === "eval")).toHaveLength(
      ROWS / 10,
    );
    expect([...fake.state.datasets.values()].map((d) => d.name)).toEqual(["crash-sft"]);
    const progress = done.progress as unknown as DatasetPushProgress;
    expect(progress.afterRowId).toBe(rows.at(-1)!._id);
    // Along the chain of checkpoints every row was counted once as pushed, the batch in flight
    // at the kill included (its ids were checkpointed as pending before it was sent).
    expect(progress).toMatchObject({ pushed: ROWS, skipped: 0 });
  }, 240_000);
});
