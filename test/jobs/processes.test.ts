import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { createJobQueue, type JobQueue } from "../../src/jobs/queue.js";
import { connectStore, type Store } from "../../src/store/mongo.js";
import { uniqueDbName } from "../support/mongo.js";
import { waitUntil } from "../support/poll.js";

/**
 * Worker processes as operators run them: separate OS processes sharing one queue on the shared
 * test store, killed with SIGKILL mid-job. Side effects are counted in the database.
 */
const root = new URL("../../", import.meta.url).pathname;
const dbName = uniqueDbName("jobproc");
let store: Store;
let queue: JobQueue;
const children: ChildProcess[] = [];

function startWorker(name: string, env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/jobs/fixtures/worker-process.ts"],
    {
      cwd: root,
      env: {
        ...process.env,
        STORE_URI: inject("mongoUri"),
        STORE_DB: dbName,
        WORKER_NAME: name,
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  children.push(child);
  return { child, exited, stderr: () => stderr };
}

const ready = (name: string) =>
  waitUntil(async () => (await store.db.collection("ready").countDocuments({ worker: name })) > 0, {
    timeoutMs: 60_000,
    what: `worker ${name} to start`,
  });

beforeAll(async () => {
  store = await connectStore({ uri: inject("mongoUri"), dbName });
  await store.ensureIndexes();
  queue = createJobQueue({
    collection: store.collections.jobs,
    clock: systemClock,
    types: [{ name: "count", maxAttempts: 5 }],
    keepFinishedMs: 3_600_000,
  });
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await store.db.dropDatabase();
  await store.close();
});

describe("worker processes", () => {
  it("a job whose worker is killed -9 mid-run completes exactly once after its lease expires", {
    timeout: 150_000,
  }, async () => {
    const leaseMs = 2_000;
    const { job } = await queue.enqueue("count", {}, { key: "kill-9" });
    const id = job._id.toHexString();
    // The first worker takes far longer than the test: it only dies.
    const doomed = startWorker("doomed", { LEASE_MS: String(leaseMs), JOB_MS: "600000" });
    await waitUntil(
      async () => (await store.db.collection("runs").countDocuments({ jobId: id })) > 0,
      {
        timeoutMs: 60_000,
        what: "the first worker to start the job",
      },
    );
    doomed.child.kill("SIGKILL");
    await doomed.exited;
    const killedAt = Date.now();
    const leased = await queue.get(job._id);
    expect(leased).toMatchObject({ state: "running", leaseOwner: "doomed" });

    const heir = startWorker("heir", { LEASE_MS: String(leaseMs), JOB_MS: "50" });
    await waitUntil(async () => (await queue.get(job._id))?.state === "succeeded", {
      timeoutMs: 60_000,
      what: "the job to succeed on the second worker",
    });
    const runs = await store.db.collection("runs").find({ jobId: id }).sort({ at: 1 }).toArray();
    expect(runs.map((run) => [run.worker, run.token])).toEqual([
      ["doomed", 1],
      ["heir", 2],
    ]);
    // Taken over only once the lease had run out, never while the first holder could still run.
    expect(runs[1]?.at.getTime()).toBeGreaterThanOrEqual(
      (leased?.leaseExpiresAt?.getTime() ?? Number.POSITIVE_INFINITY) - 50,
    );
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    expect(await store.db.collection("effects").findOne({ _id: id as never })).toMatchObject({
      completions: 1,
    });
    const done = await queue.get(job._id);
    expect(done?.attempts).toBe(2);
    expect(done?.attemptLog.map((entry) => [entry.worker, entry.outcome])).toEqual([
      ["doomed", "lease_expired"],
      ["heir", "succeeded"],
    ]);
    heir.child.kill("SIGTERM");
    expect(await heir.exited).toBe(0);
  });

  it("two worker processes share the queue and never run one job at the same time", {
    timeout: 150_000,
  }, async () => {
    const env = { LEASE_MS: "3000", JOB_MS: "40", CONCURRENCY: "2" };
    const first = startWorker("alpha", env);
    const second = startWorker("beta", env);
    await Promise.all([ready("alpha"), ready("beta")]);
    const count = 60;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      ids.push((await queue.enqueue("count", { i })).job._id.toHexString());
    }
    await waitUntil(
      async () =>
        (await store.collections.jobs.countDocuments({ type: "count", state: "succeeded" })) ===
        count + 1,
      { timeoutMs: 90_000, what: "every job to succeed" },
    );
    const runs = await store.db
      .collection("runs")
      .find({ jobId: { $in: ids } })
      .toArray();
    // Each job ran exactly once, both processes took part, and no job was ever inside two runs.
    expect(runs).toHaveLength(count);
    expect(new Set(runs.map((run) => run.jobId)).size).toBe(count);
    const byWorker = new Set(runs.map((run) => run.worker));
    expect(byWorker).toEqual(new Set(["alpha", "beta"]));
    expect(await store.db.collection("overlaps").countDocuments({ jobId: { $in: ids } })).toBe(0);
    const effects = await store.db
      .collection("effects")
      .find({ _id: { $in: ids as never[] } })
      .toArray();
    expect(effects.map((effect) => effect.completions)).toEqual(ids.map(() => 1));
    // SIGTERM: both stop gracefully (exit code 0) with nothing running.
    first.child.kill("SIGTERM");
    second.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(await second.exited).toBe(0);
  });
});
