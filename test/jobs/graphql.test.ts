import { encodeGlobalID } from "@pothos/plugin-relay";
import { beforeAll, describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import type { Claimed } from "../../src/jobs/queue.js";
import { useTestApp } from "../support/app.js";

const T0 = new Date("2026-11-27T12:00:00Z");
const clock = createManualClock(T0);
const testApp = useTestApp({
  clock,
  jobs: {
    types: [
      { name: "sync.langsmith", maxAttempts: 1 },
      { name: "digest", maxAttempts: 3 },
    ],
    handlers: () => ({}),
  },
});

const JOB_FIELDS = `
  id type state payload key priority runAt attemptCount maxAttempts
  attempts { attempt worker outcome error }
  lastError { message attempt at }
  leaseOwner createdAt finishedAt
`;
const RESULT = `
  __typename
  ... on Job { ${JOB_FIELDS} }
  ... on Error { message code }
`;

describe("jobs through GraphQL (admin scope)", () => {
  let dead = "";
  let queued = "";
  let running: Claimed;

  beforeAll(async () => {
    const { jobs } = testApp.services;
    const failing = await jobs.enqueue("sync.langsmith", { project: "p1" }, { key: "sync:p1" });
    const claimed = await jobs.claim(["sync.langsmith"], "worker-a", 10_000);
    if (!claimed) throw new Error("nothing claimed");
    await jobs.fail(claimed, "HTTPError: 503 from LangSmith", null);
    dead = failing.job._id.toHexString();
    clock.advance(1_000);
    queued = (
      await jobs.enqueue("digest", { interactionId: "x" }, { priority: 5 })
    ).job._id.toHexString();
    clock.advance(1_000);
    await jobs.enqueue("digest", { interactionId: "y" });
    running = (await jobs.claim(["digest"], "worker-b", 10_000)) as Claimed;
    // The priority-5 job was claimed first.
    expect(running.job._id.toHexString()).toBe(queued);
    queued = (await jobs.list({ type: "digest", state: "queued" }, {})).nodes[0]!._id.toHexString();
  });

  it("lists jobs newest first, filtered by type and state, with a total", async () => {
    const all = await testApp.gql(
      `{ jobs(first: 10) { totalCount edges { node { type state } } } }`,
    );
    expect(all.errors).toBeUndefined();
    expect(all.data?.jobs.totalCount).toBe(3);
    expect(
      all.data?.jobs.edges.map((edge: { node: { type: string; state: string } }) => [
        edge.node.type,
        edge.node.state,
      ]),
    ).toEqual([
      ["digest", "QUEUED"],
      ["digest", "RUNNING"],
      ["sync.langsmith", "DEAD"],
    ]);
    const filtered = await testApp.gql(
      `query($type: String, $state: JobState) { jobs(type: $type, state: $state) { totalCount edges { node { id state } } } }`,
      { type: "digest", state: "RUNNING" },
    );
    expect(filtered.data?.jobs.totalCount).toBe(1);
    const page = await testApp.gql(`{ jobs(first: 1) { pageInfo { hasNextPage endCursor } } }`);
    const next = await testApp.gql(
      `query($after: String) { jobs(first: 5, after: $after) { edges { node { type state } } } }`,
      { after: page.data?.jobs.pageInfo.endCursor },
    );
    expect(
      next.data?.jobs.edges.map((edge: { node: { state: string } }) => edge.node.state),
    ).toEqual(["RUNNING", "DEAD"]);
  });

  it("refuses an unknown job type filter with the known ones", async () => {
    const result = await testApp.gql(`{ jobs(type: "nope") { totalCount } }`);
    // The build's own types, then the test's: whatever other areas add to the catalog.
    expect(result.errors?.[0]?.message).toMatch(
      /known: feedback\.postWrite, .*sync\.langsmith, digest/,
    );
    expect(result.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
  });

  it("shows one job with its attempts and last error, by global or database id", async () => {
    for (const id of [dead, encodeGlobalID("Job", dead)]) {
      const result = await testApp.gql(`query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, {
        id,
      });
      expect(result.errors).toBeUndefined();
      expect(result.data?.job).toMatchObject({
        id: encodeGlobalID("Job", dead),
        type: "sync.langsmith",
        state: "DEAD",
        payload: { project: "p1" },
        key: "sync:p1",
        attemptCount: 1,
        maxAttempts: 1,
        attempts: [
          {
            attempt: 1,
            worker: "worker-a",
            outcome: "FAILED",
            error: "HTTPError: 503 from LangSmith",
          },
        ],
        lastError: { message: "HTTPError: 503 from LangSmith", attempt: 1 },
        finishedAt: T0.toISOString(),
      });
    }
    const viaNode = await testApp.gql(
      `query($id: ID!) { node(id: $id) { ... on Job { state } } }`,
      { id: encodeGlobalID("Job", dead) },
    );
    expect(viaNode.data?.node).toEqual({ state: "DEAD" });
  });

  it("retryJob queues a dead job again with fresh attempts; running jobs are refused", async () => {
    const retried = await testApp.gql(`mutation($id: ID!) { retryJob(id: $id) { ${RESULT} } }`, {
      id: encodeGlobalID("Job", dead),
    });
    expect(retried.data?.retryJob).toMatchObject({
      __typename: "Job",
      state: "QUEUED",
      attemptCount: 0,
      lastError: { message: "HTTPError: 503 from LangSmith" },
    });
    const busy = await testApp.gql(`mutation($id: ID!) { retryJob(id: $id) { ${RESULT} } }`, {
      id: running.job._id.toHexString(),
    });
    expect(busy.data?.retryJob).toMatchObject({ __typename: "ConflictError", code: "CONFLICT" });
    const missing = await testApp.gql(
      `mutation { retryJob(id: "0123456789abcdef01234567") { ${RESULT} } }`,
    );
    expect(missing.data?.retryJob.__typename).toBe("NotFoundError");
    const malformed = await testApp.gql(`mutation { retryJob(id: "nope") { ${RESULT} } }`);
    expect(malformed.data?.retryJob.__typename).toBe("ValidationError");
  });

  it("cancelJob cancels a running job and revokes its worker's lease", async () => {
    const cancelled = await testApp.gql(`mutation($id: ID!) { cancelJob(id: $id) { ${RESULT} } }`, {
      id: encodeGlobalID("Job", running.job._id.toHexString()),
    });
    expect(cancelled.data?.cancelJob).toMatchObject({ __typename: "Job", state: "CANCELLED" });
    expect(await testApp.services.jobs.complete(running)).toBe(false);
    expect(await testApp.services.jobs.heartbeat(running.fence, 10_000)).toBe(false);
    const again = await testApp.gql(`mutation($id: ID!) { cancelJob(id: $id) { ${RESULT} } }`, {
      id: running.job._id.toHexString(),
    });
    expect(again.data?.cancelJob.state).toBe("CANCELLED");
  });

  it("needs the admin scope for every job field", async () => {
    const reader = await testApp.key(["read", "ingest"]);
    const list = await testApp.gql(`{ jobs { totalCount } }`, undefined, reader);
    expect(list.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const one = await testApp.gql(
      `query($id: ID!) { job(id: $id) { state } }`,
      { id: queued },
      reader,
    );
    expect(one.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const node = await testApp.gql(
      `query($id: ID!) { node(id: $id) { ... on Job { state } } }`,
      { id: encodeGlobalID("Job", queued) },
      reader,
    );
    expect(node.data?.node ?? null).toBeNull();
    expect(node.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    for (const mutation of ["retryJob", "cancelJob"]) {
      const result = await testApp.gql(
        `mutation($id: ID!) { ${mutation}(id: $id) { ${RESULT} } }`,
        { id: queued },
        reader,
      );
      expect(result.data?.[mutation].__typename).toBe("ForbiddenError");
    }
    // Refused requests changed nothing.
    const unchanged = await testApp.services.jobs.list({ state: "queued", type: "digest" }, {});
    expect(unchanged.nodes.map((job) => job._id.toHexString())).toEqual([queued]);
  });
});

describe("job metrics", () => {
  it("exports active jobs by type and state and the queue lag", async () => {
    clock.advance(30_000);
    const text = await (await testApp.app.fetch("http://localhost/metrics")).text();
    const sample = (line: string) => {
      const found = text.split("\n").find((candidate) => candidate.startsWith(line));
      return found === undefined ? undefined : Number(found.slice(line.length).trim());
    };
    expect(sample('loopgate_jobs{type="digest",state="queued"}')).toBe(1);
    expect(sample('loopgate_jobs{type="digest",state="running"}')).toBe(0);
    expect(sample('loopgate_jobs{type="sync.langsmith",state="queued"}')).toBe(1);
    expect(sample('loopgate_jobs{type="sync.langsmith",state="dead"}')).toBe(0);
    // The oldest runnable job has waited since its runAt: T0 + 2 s, and the clock is now past it.
    const lag = sample("loopgate_job_queue_lag_seconds") ?? -1;
    expect(lag).toBeGreaterThanOrEqual(30);
    expect(text).toContain("# TYPE loopgate_job_run_duration_seconds histogram");
  });
});
