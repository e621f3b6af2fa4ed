import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import { parseId } from "../../src/ids.js";
import {
  DATASET_PUSH_JOB,
  type DatasetPushProgress,
  exampleIdOf,
  exampleOf,
  uuidV5,
} from "../../src/integrations/sync/langsmith-datasets.js";
import type { JobContext } from "../../src/jobs/types.js";
import type { DatasetSnapshotDoc } from "../../src/store/dataset-docs.js";
import { type FakeLangSmith, type LsmExample, startFakeLangSmith } from "../fakes/langsmith.js";
import { useTestApp } from "../support/app.js";
import { generateDatasetCorpus } from "../support/dataset-corpus.js";
import { waitUntil } from "../support/poll.js";

/**
 * Dataset snapshots pushed to LangSmith through the official SDK against the fake: one example
 * per row with its split, inputs and outputs; a second push adds nothing; faults (429 with
 * Retry-After, 5xx, an upload stored whose answer was lost) and an interrupted job lose and
 * duplicate nothing; refusals write nothing.
 */
let fake: FakeLangSmith;
const env: Record<string, string> = {};

beforeAll(async () => {
  fake = await startFakeLangSmith();
  Object.assign(env, {
    LANGSMITH_API_KEY: fake.apiKey,
    LANGSMITH_ENDPOINT: fake.url,
    INTEGRATIONS_HTTP_TIMEOUT_MS: "5000",
    JOBS_POLL_MS: "50",
  });
});

const testApp = useTestApp({ env });
/** A second app without LangSmith credentials. */
const unconfigured = useTestApp();
const corpus = generateDatasetCorpus(2_000, { seed: 5 });
let sft: DatasetSnapshotDoc;
let dpo: DatasetSnapshotDoc;

const PUSH = /* GraphQL */ `
  mutation Push($input: PushDatasetSnapshotToLangSmithInput!) {
    pushDatasetSnapshotToLangSmith(input: $input) {
      __typename
      ... on Job { id state }
      ... on ValidationError { message fields { path message } }
      ... on Error { message }
    }
  }
`;

async function built(app: typeof testApp, input: Record<string, unknown>) {
  const { snapshot } = await app.services.datasets.create(input as never, systemActor("test"));
  return app.services.datasets.build(snapshot._id);
}

/** Pushes through the API and waits for the job; returns its final progress. */
async function pushAndWait(
  snapshot: DatasetSnapshotDoc,
  datasetName?: string,
): Promise<DatasetPushProgress & { attempts: number }> {
  const result = await testApp.gql(PUSH, {
    input: { snapshotId: snapshot._id.toHexString(), ...(datasetName ? { datasetName } : {}) },
  });
  expect(result.errors).toBeUndefined();
  const job = result.data?.pushDatasetSnapshotToLangSmith;
  expect(job.__typename).toBe("Job");
  const id = parseId(job.id, ["Job"], "id");
  let progress: (DatasetPushProgress & { attempts: number }) | undefined;
  await waitUntil(
    async () => {
      const doc = await testApp.services.jobs.get(id);
      if (doc?.state === "dead") throw new Error(`push died: ${JSON.stringify(doc.lastError)}`);
      progress = {
        ...(doc?.progress as unknown as DatasetPushProgress),
        attempts: doc?.attempts ?? 0,
      };
      return doc?.state === "succeeded";
    },
    { timeoutMs: 90_000, intervalMs: 100, what: "dataset push" },
  );
  return progress!;
}

function examplesOf(datasetName: string): LsmExample[] {
  const dataset = [...fake.state.datasets.values()].find((d) => d.name === datasetName);
  if (!dataset) return [];
  return [...fake.state.examples.values()].filter((e) => e.dataset_id === dataset.id);
}

async function rowsOf(snapshot: DatasetSnapshotDoc) {
  return testApp.store.collections.datasetRows
    .find({ snapshotId: snapshot._id }, { sort: { _id: 1 } })
    .toArray();
}

async function metric(name: string): Promise<number> {
  const text = await (await testApp.app.fetch("http://localhost/metrics")).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${name}{integration="langsmith",direction="push"}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}
const pushedMetric = () => metric("loopgate_integration_items_synced_total");

beforeAll(async () => {
  const { interactions, feedback } = testApp.store.collections;
  await interactions.insertMany(corpus.interactions);
  await feedback.insertMany(corpus.feedback);
  sft = await built(testApp, { kind: "sft", evalFraction: 0.2 });
  dpo = await built(testApp, { kind: "dpo", evalFraction: 0.2 });
  testApp.worker?.start();
}, 120_000);

afterAll(async () => {
  await testApp.worker?.stop(5_000);
  await fake.close();
});

describe("example mapping and ids", () => {
  it("derives RFC 4122 version 5 UUIDs", () => {
    // The RFC's DNS namespace and the well-known vector for www.example.com.
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });

  it("maps each TRL format's prompt side to inputs and the rest to outputs", () => {
    expect(exampleOf("sft", { prompt: "p", completion: "c" })).toEqual({
      inputs: { prompt: "p" },
      outputs: { completion: "c" },
    });
    expect(exampleOf("dpo", { prompt: "p", chosen: "a", rejected: "b" })).toEqual({
      inputs: { prompt: "p" },
      outputs: { chosen: "a", rejected: "b" },
    });
    expect(exampleOf("kto", { prompt: "p", completion: "c", label: false })).toEqual({
      inputs: { prompt: "p" },
      outputs: { completion: "c", label: false },
    });
    expect(exampleOf("reward", { chosen: "a", rejected: "b" })).toEqual({
      inputs: {},
      outputs: { chosen: "a", rejected: "b" },
    });
    expect(exampleOf("ragGaps", { question: "q", answer: "a" })).toEqual({
      inputs: { question: "q" },
      outputs: { answer: "a" },
    });
    const messages = [
      { role: "system", content: "s" },
      { role: "user", content: "u" },
      { role: "assistant", content: "a" },
    ];
    expect(exampleOf("sftMessages", { messages })).toEqual({
      inputs: { messages: messages.slice(0, 2) },
      outputs: { messages: messages.slice(2) },
    });
  });
});

describe("pushing dataset snapshots to LangSmith", { timeout: 180_000 }, () => {
  it("pushes one example per row, with its split, inputs, outputs and provenance", async () => {
    const rows = await rowsOf(sft);
    expect(rows.length).toBeGreaterThan(EXAMPLES_AT_LEAST);
    expect(rows.some((row) => row.split === "eval")).toBe(true);
    const before = await pushedMetric();

    const progress = await pushAndWait(sft);

    const name = `loopgate-sft-${sft._id.toHexString()}`;
    const dataset = [...fake.state.datasets.values()].find((d) => d.name === name)!;
    expect(dataset.description).toContain(`sft snapshot ${sft._id.toHexString()}`);
    expect(dataset.description).toContain(`${sft.counts!.train} train, ${sft.counts!.eval} eval`);
    const examples = new Map(examplesOf(name).map((example) => [example.id, example]));
    expect(examples.size).toBe(rows.length);
    for (const row of rows) {
      const example = examples.get(exampleIdOf(sft._id, row._id))!;
      const line = JSON.parse(row.line);
      expect(example.inputs).toEqual({ prompt: line.prompt });
      expect(example.outputs).toEqual({ completion: line.completion });
      expect(example.metadata).toMatchObject({
        dataset_split: [row.split],
        loopgate_snapshot_id: sft._id.toHexString(),
        loopgate_row_id: row._id,
        loopgate_feedback_ids: row.feedbackIds.map((id) => id.toHexString()),
      });
    }
    expect(progress).toMatchObject({ datasetId: dataset.id, pushed: rows.length, skipped: 0 });
    expect((await pushedMetric()) - before).toBe(rows.length);

    // The service's split filter finds the eval rows.
    const evalListing = await fetch(
      `${fake.url}/examples?dataset=${dataset.id}&splits=eval&limit=100`,
      { headers: { "x-api-key": fake.apiKey } },
    );
    expect(((await evalListing.json()) as unknown[]).length).toBe(
      Math.min(100, rows.filter((row) => row.split === "eval").length),
    );
  });

  it("adds nothing when the same snapshot is pushed again", async () => {
    const name = `loopgate-sft-${sft._id.toHexString()}`;
    const count = examplesOf(name).length;
    const uploadsBefore = fake.server.requests.filter(
      (r) => r.path.includes("/examples") && r.method === "POST",
    ).length;
    const before = await pushedMetric();

    const progress = await pushAndWait(sft);

    expect(examplesOf(name)).toHaveLength(count);
    expect(progress).toMatchObject({ pushed: 0, skipped: count });
    expect(
      fake.server.requests.filter((r) => r.path.includes("/examples") && r.method === "POST"),
    ).toHaveLength(uploadsBefore);
    expect(await pushedMetric()).toBe(before);
    expect([...fake.state.datasets.values()].filter((d) => d.name === name)).toHaveLength(1);
  });

  it("loses and duplicates nothing through 429s, 5xx and an upload whose answer was lost", async () => {
    const rows = await rowsOf(dpo);
    fake.server.inject({
      fault: { kind: "status", status: 429, retryAfter: "1" },
      times: 1,
      method: "POST",
      path: /\/platform\/datasets\/.+\/examples$/,
    });
    fake.server.inject({
      fault: { kind: "status", status: 503 },
      times: 1,
      method: "GET",
      path: /^\/examples$/,
    });
    // Stored, then answered 500: the SDK's retry meets 409 for ids that are already there.
    fake.server.inject({
      fault: { kind: "lost", status: 500 },
      times: 1,
      method: "POST",
      path: /\/platform\/datasets\/.+\/examples$/,
    });
    // The dataset is created, its answer lost: the retry's 409 leads to reading it back.
    fake.server.inject({
      fault: { kind: "lost", status: 502 },
      times: 1,
      method: "POST",
      path: /^\/datasets$/,
    });

    // Refused outright (no SDK retry): the job's attempt fails and the queue retries it.
    fake.server.inject({
      fault: { kind: "status", status: 400 },
      times: 1,
      method: "POST",
      path: /\/platform\/datasets\/.+\/examples$/,
    });
    const errorsBefore = await metric("loopgate_integration_sync_errors_total");

    const progress = await pushAndWait(dpo, "support-dpo-curated");

    expect(
      [...fake.state.datasets.values()].filter((d) => d.name === "support-dpo-curated"),
    ).toHaveLength(1);
    const examples = examplesOf("support-dpo-curated");
    expect(examples).toHaveLength(rows.length);
    expect(new Set(examples.map((e) => e.metadata?.loopgate_row_id)).size).toBe(rows.length);
    const byId = new Map(examples.map((e) => [e.id, e]));
    for (const row of rows) {
      const line = JSON.parse(row.line);
      const example = byId.get(exampleIdOf(dpo._id, row._id))!;
      expect(example.inputs).toEqual({ prompt: line.prompt });
      expect(example.outputs).toEqual({ chosen: line.chosen, rejected: line.rejected });
      expect(example.metadata?.dataset_split).toEqual([row.split]);
    }
    // The failed attempt's successor resumed from the checkpoint: every row pushed once.
    expect(progress).toMatchObject({ pushed: rows.length, skipped: 0 });
    expect(progress.attempts).toBe(2);
    expect((await metric("loopgate_integration_sync_errors_total")) - errorsBefore).toBe(1);
    // Every injected fault was met.
    const statuses = fake.server.requests.map((r) => r.status);
    expect(statuses).toContain(429);
    expect(statuses).toContain(409);
    expect(statuses).toContain(503);
  });

  it("resumes an interrupted push from its checkpoint without losing or repeating a row", async () => {
    const snapshot = await built(testApp, { kind: "sft", evalFraction: 0.3, seed: 9 });
    const rows = await rowsOf(snapshot);
    expect(rows.length).toBeGreaterThan(200);
    const checkpoints: DatasetPushProgress[] = [];
    const abort = new AbortController();
    const context = (progress: DatasetPushProgress | null, stopAfter: number) =>
      ({
        job: {
          id: "0".repeat(24),
          type: DATASET_PUSH_JOB,
          payload: { snapshotId: snapshot._id.toHexString(), datasetName: "sft-resumed" },
          key: null,
          attempt: 1,
          maxAttempts: 25,
          progress: progress as unknown as Record<string, unknown> | null,
        },
        signal: abort.signal,
        async checkpoint(saved: Record<string, unknown>) {
          checkpoints.push(saved as unknown as DatasetPushProgress);
          // The process dies after this many checkpoints (the next batch never starts).
          if (checkpoints.length >= stopAfter) abort.abort(new Error("killed"));
        },
      }) as unknown as JobContext<{ snapshotId: string; datasetName: string }>;

    // First attempt: the dataset and two batches (a checkpoint of the ids about to be sent
    // before each upload, one of the row reached after it), then killed.
    await expect(testApp.services.integrations.runDatasetPush(context(null, 5))).rejects.toThrow();
    expect(examplesOf("sft-resumed")).toHaveLength(200);
    expect(checkpoints.map((c) => c.pending?.length ?? null)).toEqual([null, 100, null, 100, null]);
    // The next attempt resumes as if the last checkpoint write had been lost with the process:
    // the second batch was sent after the checkpoint that lists its ids as pending.
    const resumeFrom = checkpoints[3]!;
    expect(resumeFrom.afterRowId).toBe(rows[99]!._id);
    checkpoints.length = 0;
    const second = new AbortController();
    await testApp.services.integrations.runDatasetPush({
      ...context(resumeFrom, Number.POSITIVE_INFINITY),
      signal: second.signal,
    } as JobContext<{ snapshotId: string; datasetName: string }>);

    const examples = examplesOf("sft-resumed");
    expect(examples).toHaveLength(rows.length);
    expect(new Set(examples.map((e) => e.metadata?.loopgate_row_id))).toEqual(
      new Set(rows.map((row) => row._id)),
    );
    const last = checkpoints.at(-1)!;
    // The batch the lost checkpoint covered was found, and counted as pushed (it was pending).
    expect(last).toMatchObject({ pushed: rows.length, skipped: 0 });
    expect(last.pending).toBeUndefined();
    expect([...fake.state.datasets.values()].filter((d) => d.name === "sft-resumed")).toHaveLength(
      1,
    );
  });

  it("refuses unknown and unfinished snapshots and bad names, writing nothing", async () => {
    const datasets = fake.state.datasets.size;
    const jobs = await testApp.store.collections.jobs.countDocuments({ type: DATASET_PUSH_JOB });

    const unknown = await testApp.gql(PUSH, { input: { snapshotId: "0".repeat(24) } });
    expect(unknown.data?.pushDatasetSnapshotToLangSmith.__typename).toBe("NotFoundError");

    const { snapshot: building } = await testApp.services.datasets.create(
      { kind: "negatives" } as never,
      systemActor("test"),
    );
    // Still building unless the worker got to it first: make sure it is not ready.
    await testApp.store.collections.datasetSnapshots.updateOne(
      { _id: building._id },
      { $set: { state: "failed", error: "test" } },
    );
    const failed = await testApp.gql(PUSH, {
      input: { snapshotId: building._id.toHexString() },
    });
    expect(failed.data?.pushDatasetSnapshotToLangSmith).toMatchObject({
      __typename: "ConflictError",
    });
    expect(failed.data?.pushDatasetSnapshotToLangSmith.message).toContain("only ready snapshots");

    const blank = await testApp.gql(PUSH, {
      input: { snapshotId: sft._id.toHexString(), datasetName: "   " },
    });
    expect(blank.data?.pushDatasetSnapshotToLangSmith.__typename).toBe("ValidationError");
    expect(blank.data?.pushDatasetSnapshotToLangSmith.fields[0].path).toBe("input.datasetName");

    const badId = await testApp.gql(PUSH, { input: { snapshotId: "not-an-id" } });
    expect(badId.data?.pushDatasetSnapshotToLangSmith.__typename).toBe("ValidationError");

    expect(fake.state.datasets.size).toBe(datasets);
    expect(await testApp.store.collections.jobs.countDocuments({ type: DATASET_PUSH_JOB })).toBe(
      jobs,
    );
  });

  it("is for admins only", async () => {
    const jobs = await testApp.store.collections.jobs.countDocuments({ type: DATASET_PUSH_JOB });
    for (const scopes of [["read"], ["ingest"]] as const) {
      const key = await testApp.key([...scopes]);
      const result = await testApp.gql(PUSH, { input: { snapshotId: sft._id.toHexString() } }, key);
      const payload = result.data?.pushDatasetSnapshotToLangSmith;
      expect(payload?.__typename ?? result.errors?.[0]?.extensions?.code).toMatch(
        /ForbiddenError|FORBIDDEN|UNAUTHORIZED/,
      );
    }
    const anonymous = await testApp.gql(
      PUSH,
      { input: { snapshotId: sft._id.toHexString() } },
      null,
    );
    expect(anonymous.data?.pushDatasetSnapshotToLangSmith?.__typename).not.toBe("Job");
    expect(await testApp.store.collections.jobs.countDocuments({ type: DATASET_PUSH_JOB })).toBe(
      jobs,
    );
  });

  it("is refused when LangSmith is not configured", async () => {
    const snapshot = await built(unconfigured, { kind: "sft" });
    const result = await unconfigured.gql(PUSH, {
      input: { snapshotId: snapshot._id.toHexString() },
    });
    const payload = result.data?.pushDatasetSnapshotToLangSmith;
    expect(payload.__typename).toBe("ValidationError");
    expect(payload.message).toContain("LangSmith is not configured");
    expect(
      await unconfigured.store.collections.jobs.countDocuments({ type: DATASET_PUSH_JOB }),
    ).toBe(0);
  });
});

const EXAMPLES_AT_LEAST = 150;
