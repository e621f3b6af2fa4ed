import { ObjectId } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { backoffDelay } from "../../src/jobs/backoff.js";
import { createFencedCollection } from "../../src/jobs/fence.js";
import { createJobQueue, type JobQueue } from "../../src/jobs/queue.js";
import { FenceRefusedError, type JobTypePolicy } from "../../src/jobs/types.js";
import { createJobWorker } from "../../src/jobs/worker.js";
import { createLogger } from "../../src/observability/logger.js";
import type { JobDoc } from "../../src/store/job-doc.js";
import { connectStore, type Store } from "../../src/store/mongo.js";
import { uniqueDbName } from "../support/mongo.js";
import { waitUntil } from "../support/poll.js";

const T0 = new Date("2026-11-27T12:00:00Z");
const logger = createLogger({ level: "silent" });
let store: Store;

beforeAll(async () => {
  store = await connectStore({ uri: inject("mongoUri"), dbName: uniqueDbName("jobs") });
  await store.ensureIndexes();
});
afterAll(async () => {
  await store.db.dropDatabase();
  await store.close();
});

/** A fresh queue over an empty jobs collection, on a clock the test moves. */
async function freshQueue(types: JobTypePolicy[] = [{ name: "work" }]) {
  await store.collections.jobs.deleteMany({});
  const clock = createManualClock(T0);
  const queue = createJobQueue({
    collection: store.collections.jobs,
    clock,
    types,
    keepFinishedMs: 3_600_000,
  });
  return { clock, queue };
}

const claimOrFail = async (queue: JobQueue, worker = "w1", leaseMs = 10_000) => {
  const claimed = await queue.claim([...queue.types.keys()], worker, leaseMs);
  if (!claimed) throw new Error("expected a runnable job");
  return claimed;
};

describe("round trips", () => {
  it("an enqueue is one insert; a claim one findAndModify; a completion one update", async () => {
    const monitored = await connectStore({
      uri: inject("mongoUri"),
      dbName: store.db.databaseName,
      clientOptions: { monitorCommands: true },
    });
    const sent: string[] = [];
    monitored.client.on("commandStarted", (event) => sent.push(event.commandName));
    try {
      await store.collections.jobs.deleteMany({});
      const clock = createManualClock(T0);
      const queue = createJobQueue({
        collection: monitored.collections.jobs,
        clock,
        types: [{ name: "work" }],
        keepFinishedMs: 3_600_000,
      });
      const count = async (action: () => Promise<unknown>) => {
        const before = sent.length;
        await action();
        return sent.slice(before);
      };
      // The first claim also looks for expired leases (at most once a second).
      await queue.enqueue("work", {});
      expect(await count(() => claimOrFail(queue))).toEqual(["findAndModify", "findAndModify"]);
      await queue.enqueue("work", {});
      expect(await count(() => queue.enqueue("work", {}))).toEqual(["insert"]);
      const claimed = await count(async () => {
        const job = await claimOrFail(queue);
        expect(await count(() => queue.complete(job))).toEqual(["update"]);
      });
      expect(claimed).toEqual(["findAndModify", "update"]);
      // A repeated key costs one more read to return the holder.
      await queue.enqueue("work", {}, { key: "k" });
      expect(await count(() => queue.enqueue("work", {}, { key: "k" }))).toEqual([
        "insert",
        "find",
      ]);
    } finally {
      await monitored.close();
    }
  });
});

describe("claim cost", () => {
  it("reads the next job off the claim index, not by sorting the backlog", async () => {
    const monitored = await connectStore({
      uri: inject("mongoUri"),
      dbName: store.db.databaseName,
      clientOptions: { monitorCommands: true },
    });
    const claims: Array<Record<string, unknown>> = [];
    monitored.client.on("commandStarted", (event) => {
      if (event.commandName === "findAndModify") claims.push(event.command);
    });
    try {
      await store.collections.jobs.deleteMany({});
      const clock = createManualClock(T0);
      const queue = createJobQueue({
        collection: monitored.collections.jobs,
        clock,
        types: [{ name: "work" }, { name: "other" }],
        keepFinishedMs: 3_600_000,
      });
      const backlog = Array.from({ length: 300 }, (_, i) =>
        queue.enqueue(i % 2 ? "work" : "other", { i }, { priority: i % 3 }),
      );
      await Promise.all(backlog);
      // The first claim also sweeps expired leases; the next ones within a second do not.
      await queue.claim(["other"], "w", 10_000);
      for (const types of [["work"], ["work", "other"]]) {
        claims.length = 0;
        expect(await queue.claim(types, "w", 10_000)).not.toBeNull();
        expect(claims).toHaveLength(1);
        const { findAndModify, query, sort, update, hint } = claims[0] as Record<string, unknown>;
        const explained = await store.db.command({
          explain: { findAndModify, query, sort, update, hint },
          verbosity: "executionStats",
        });
        // A few jobs of other types may sit first in priority order; never the backlog (300).
        expect(explained.executionStats.totalDocsExamined).toBeLessThanOrEqual(10);
      }
    } finally {
      await monitored.close();
    }
  });
});

describe("enqueue", () => {
  it("makes one job per de-duplication key, even when enqueues race", async () => {
    const { queue } = await freshQueue();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => queue.enqueue("work", { n }, { key: "sync:42" })),
    );
    expect(results.filter((result) => result.created)).toHaveLength(1);
    const ids = new Set(results.map((result) => result.job._id.toHexString()));
    expect(ids.size).toBe(1);
    expect(await store.collections.jobs.countDocuments({ key: "sync:42" })).toBe(1);
    // Without a key every enqueue is a job of its own.
    await queue.enqueue("work", {});
    await queue.enqueue("work", {});
    expect(await store.collections.jobs.countDocuments()).toBe(3);
  });

  it("releases the key when the job succeeds, so the same work can be queued again", async () => {
    const { queue } = await freshQueue();
    const first = await queue.enqueue("work", {}, { key: "digest:7" });
    expect((await queue.enqueue("work", {}, { key: "digest:7" })).created).toBe(false);
    const claimed = await claimOrFail(queue);
    expect(claimed.job._id).toEqual(first.job._id);
    // Still held while running.
    expect((await queue.enqueue("work", {}, { key: "digest:7" })).created).toBe(false);
    expect(await queue.complete(claimed)).toBe(true);
    // Kept for an hour (keepFinishedMs), then the TTL index removes it.
    const finished = await queue.get(first.job._id);
    expect(finished?.purgeAt?.getTime()).toBe((finished?.finishedAt?.getTime() ?? 0) + 3_600_000);
    const again = await queue.enqueue("work", {}, { key: "digest:7" });
    expect(again.created).toBe(true);
    expect(again.job._id).not.toEqual(first.job._id);
  });

  it("refuses unknown types and out-of-range options, writing nothing", async () => {
    const { queue } = await freshQueue();
    await expect(queue.enqueue("nope", {})).rejects.toThrow(/unknown job type/);
    await expect(queue.enqueue("work", {}, { priority: 5000 })).rejects.toThrow(/priority/);
    await expect(queue.enqueue("work", {}, { key: "~x" })).rejects.toThrow(/reserved/);
    expect(await store.collections.jobs.countDocuments()).toBe(0);
  });
});

describe("claim", () => {
  it("takes higher priorities first, then the earliest runAt", async () => {
    const { queue, clock } = await freshQueue();
    await queue.enqueue("work", { name: "low" }, { priority: -5 });
    clock.advance(10);
    await queue.enqueue("work", { name: "default-early" });
    clock.advance(10);
    await queue.enqueue("work", { name: "high" }, { priority: 10 });
    clock.advance(10);
    await queue.enqueue("work", { name: "default-late" });
    const order: unknown[] = [];
    for (let i = 0; i < 4; i++) order.push((await claimOrFail(queue)).job.payload.name);
    expect(order).toEqual(["high", "default-early", "default-late", "low"]);
    expect(await queue.claim(["work"], "w1", 10_000)).toBeNull();
  });

  it("does not run a delayed job before its runAt", async () => {
    const { queue, clock } = await freshQueue();
    await queue.enqueue("work", {}, { runAt: new Date(T0.getTime() + 60_000) });
    expect(await queue.claim(["work"], "w1", 10_000)).toBeNull();
    clock.advance(59_999);
    expect(await queue.claim(["work"], "w1", 10_000)).toBeNull();
    clock.advance(1);
    expect(await queue.claim(["work"], "w1", 10_000)).not.toBeNull();
  });

  it("hands a job to exactly one of many concurrent claimers", async () => {
    const { queue } = await freshQueue();
    await queue.enqueue("work", {});
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, n) => queue.claim(["work"], `w${n}`, 10_000)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it("claims only the types asked for", async () => {
    const { queue } = await freshQueue([{ name: "a" }, { name: "b" }]);
    await queue.enqueue("a", {}, { priority: 100 });
    await queue.enqueue("b", {});
    expect((await queue.claim(["b"], "w1", 10_000))?.job.type).toBe("b");
    expect(await queue.claim(["b"], "w1", 10_000)).toBeNull();
  });
});

describe("leases and fencing", () => {
  it("refuses every write of a worker whose lease expired and was taken over", async () => {
    const { queue, clock } = await freshQueue();
    const { job } = await queue.enqueue("work", {});
    const stale = await claimOrFail(queue, "stale", 1_000);
    expect(await queue.heartbeat(stale.fence, 1_000)).toBe(true);
    // Not yet expired: nobody else may take it.
    clock.advance(999);
    expect(await queue.claim(["work"], "successor", 1_000)).toBeNull();
    clock.advance(1);
    const successor = await claimOrFail(queue, "successor", 1_000);
    expect(successor.expiredLeaseOf).toBe("stale");
    expect(successor.fence.token).toBeGreaterThan(stale.fence.token);

    const results = store.db.collection<{ _id: ObjectId; value: string }>("results");
    const target = new ObjectId();
    const mine = createFencedCollection(results, successor.fence, () => true);
    const theirs = createFencedCollection(results, stale.fence, () => true);
    expect(
      await mine.updateOne({ _id: target }, { $set: { value: "successor" } }, { upsert: true }),
    ).toEqual({ matched: false, upserted: true });
    // The stale worker still believes it holds the lease; the store does not agree.
    await expect(
      theirs.updateOne({ _id: target }, { $set: { value: "stale" } }, { upsert: true }),
    ).rejects.toBeInstanceOf(FenceRefusedError);
    await expect(
      theirs.updateOne({ _id: target }, { $set: { value: "stale" } }),
    ).rejects.toBeInstanceOf(FenceRefusedError);
    expect(await queue.heartbeat(stale.fence, 1_000)).toBe(false);
    expect(await queue.checkpoint(stale.fence, { cursor: 1 })).toBe(false);
    expect(await queue.complete(stale)).toBe(false);
    expect(await queue.fail(stale, "late", null)).toBe(false);
    expect((await results.findOne({ _id: target }))?.value).toBe("successor");

    // The successor's own writes go through, and a write by another job is not fenced off.
    expect(await mine.updateOne({ _id: target }, { $set: { value: "successor-2" } })).toEqual({
      matched: true,
      upserted: false,
    });
    expect(await queue.complete(successor)).toBe(true);
    const done = await queue.get(job._id);
    expect(done?.state).toBe("succeeded");
    expect(done?.attempts).toBe(2);
    expect(done?.attemptLog.map((entry) => [entry.worker, entry.outcome])).toEqual([
      ["stale", "lease_expired"],
      ["successor", "succeeded"],
    ]);
  });

  it("cancelling a running job revokes its lease", async () => {
    const { queue } = await freshQueue();
    const { job } = await queue.enqueue("work", {}, { key: "k" });
    const running = await claimOrFail(queue);
    const cancelled = await queue.cancel(job._id);
    expect(cancelled.state).toBe("cancelled");
    expect(await queue.heartbeat(running.fence, 10_000)).toBe(false);
    expect(await queue.complete(running)).toBe(false);
    expect((await queue.get(job._id))?.state).toBe("cancelled");
    // Safe to repeat; the key is free again.
    expect((await queue.cancel(job._id)).state).toBe("cancelled");
    expect((await queue.enqueue("work", {}, { key: "k" })).created).toBe(true);
  });
});

describe("retries", () => {
  it("follows an exponential schedule with jitter, capped, never below the base", () => {
    const policy = { baseMs: 1_000, maxMs: 30_000 };
    const top = () => 1;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, policy, top))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
    expect([1, 2, 3, 10].map((n) => backoffDelay(n, policy, () => 0))).toEqual([
      1_000, 1_000, 1_000, 1_000,
    ]);
    expect(backoffDelay(4, policy, () => 0.5)).toBe(4_000);
    // With real randomness every delay stays inside [base, ceiling] and they spread out.
    const samples = Array.from({ length: 200 }, () => backoffDelay(5, policy));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(16_000);
    expect(new Set(samples).size).toBeGreaterThan(50);
  });

  it("reschedules failures on that schedule and keeps the last error once dead", async () => {
    const { queue, clock } = await freshQueue([
      { name: "flaky", maxAttempts: 4, backoff: { baseMs: 1_000, maxMs: 3_000 } },
    ]);
    let calls = 0;
    const worker = createJobWorker({
      queue,
      handlers: {
        flaky: async () => {
          calls += 1;
          throw new Error(`boom ${calls}`);
        },
      },
      clock,
      logger,
      concurrency: 1,
      leaseMs: 10_000,
      pollMs: 10,
      random: () => 1,
    });
    const { job } = await queue.enqueue("flaky", {});
    worker.start();
    const read = async () => (await queue.get(job._id)) as JobDoc;
    const runAts: number[] = [];
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        await waitUntil(
          async () => (await read()).attempts === attempt && (await read()).state === "queued",
          {
            timeoutMs: 10_000,
            intervalMs: 10,
            what: `attempt ${attempt} to fail`,
          },
        );
        const runAt = (await read()).runAt.getTime();
        runAts.push(runAt - clock.now().getTime());
        // Not a millisecond early.
        clock.set(new Date(runAt - 1));
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect((await read()).attempts).toBe(attempt);
        clock.set(new Date(runAt));
      }
      await waitUntil(async () => (await read()).state === "dead", {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: "the job to go dead",
      });
    } finally {
      await worker.stop(1_000);
    }
    expect(runAts).toEqual([1_000, 2_000, 3_000]);
    const dead = await read();
    expect(dead.attempts).toBe(4);
    expect(dead.lastError).toMatchObject({ message: "Error: boom 4", attempt: 4 });
    expect(dead.attemptLog.map((entry) => entry.outcome)).toEqual([
      "failed",
      "failed",
      "failed",
      "failed",
    ]);
    expect(calls).toBe(4);
    // Dead jobs wait for an operator: nothing claims them, the key stays held.
    expect(await queue.claim(["flaky"], "w", 1_000)).toBeNull();
    const retried = await queue.retry(job._id);
    expect(retried).toMatchObject({ state: "queued", attempts: 0 });
    expect(retried.lastError?.message).toBe("Error: boom 4");
  });
});

describe("worker", () => {
  it("sends a job that keeps killing its workers to dead instead of running it forever", async () => {
    const { queue, clock } = await freshQueue([{ name: "poison", maxAttempts: 2 }]);
    const { job } = await queue.enqueue("poison", {});
    // Two workers claim it and die (their leases simply run out).
    for (const worker of ["crashed-1", "crashed-2"]) {
      expect(await queue.claim(["poison"], worker, 1_000)).not.toBeNull();
      clock.advance(1_001);
    }
    let ran = false;
    const worker = createJobWorker({
      queue,
      handlers: {
        poison: async () => {
          ran = true;
        },
      },
      clock,
      logger,
      concurrency: 1,
      leaseMs: 10_000,
      pollMs: 10,
    });
    worker.start();
    try {
      await waitUntil(async () => (await queue.get(job._id))?.state === "dead", {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: "the job to go dead",
      });
    } finally {
      await worker.stop(1_000);
    }
    expect(ran).toBe(false);
    const dead = await queue.get(job._id);
    expect(dead?.lastError?.message).toContain("exceeds maxAttempts 2");
    expect(dead?.attemptLog.map((entry) => entry.outcome)).toEqual([
      "lease_expired",
      "lease_expired",
      "failed",
    ]);
  });

  it("aborts a handler whose job is cancelled and writes nothing over the cancellation", async () => {
    const { queue, clock } = await freshQueue([{ name: "slow" }]);
    let aborted = false;
    let started = false;
    const worker = createJobWorker({
      queue,
      handlers: {
        slow: (context) =>
          new Promise<void>((resolve) => {
            started = true;
            context.signal.addEventListener("abort", () => {
              aborted = true;
              resolve(); // returns normally: the worker must still not mark it succeeded
            });
          }),
      },
      clock,
      logger,
      concurrency: 1,
      leaseMs: 300,
      pollMs: 10,
    });
    const { job } = await queue.enqueue("slow", {});
    worker.start();
    try {
      await waitUntil(() => started, {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: "the job to start",
      });
      await queue.cancel(job._id);
      await waitUntil(() => aborted && worker.active === 0, {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: "the handler to be aborted",
      });
    } finally {
      await worker.stop(1_000);
    }
    const after = await queue.get(job._id);
    expect(after?.state).toBe("cancelled");
    expect(after?.attemptLog).toEqual([]);
  });

  it("keeps each type under its own concurrency limit while other types run", async () => {
    const { queue, clock } = await freshQueue([
      { name: "limited", concurrency: 2 },
      { name: "free" },
    ]);
    let inside = 0;
    let most = 0;
    let freeDone = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = createJobWorker({
      queue,
      handlers: {
        limited: async () => {
          inside += 1;
          most = Math.max(most, inside);
          await gate;
          inside -= 1;
        },
        free: async () => {
          freeDone += 1;
        },
      },
      clock,
      logger,
      concurrency: 8,
      leaseMs: 10_000,
      pollMs: 10,
    });
    for (let i = 0; i < 6; i++) await queue.enqueue("limited", { i }, { priority: 10 });
    for (let i = 0; i < 3; i++) await queue.enqueue("free", { i });
    worker.start();
    try {
      // The free jobs get through while both limited slots are blocked.
      await waitUntil(() => freeDone === 3 && inside === 2, {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: "free jobs to finish beside two limited ones",
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(inside).toBe(2);
      expect(
        await store.collections.jobs.countDocuments({ type: "limited", state: "running" }),
      ).toBe(2);
      release();
      await waitUntil(
        async () => (await store.collections.jobs.countDocuments({ state: "succeeded" })) === 9,
        { timeoutMs: 10_000, intervalMs: 10, what: "every job to succeed" },
      );
    } finally {
      release();
      await worker.stop(1_000);
    }
    expect(most).toBe(2);
  });

  it("stops claiming at shutdown, lets running jobs finish, and never releases a lease early", async () => {
    const { queue, clock } = await freshQueue([{ name: "short" }, { name: "long" }]);
    let finishLong: () => void = () => undefined;
    const longDone = new Promise<void>((resolve) => {
      finishLong = resolve;
    });
    let shortStarted = false;
    const worker = createJobWorker({
      queue,
      handlers: {
        short: async () => {
          shortStarted = true;
          await new Promise((resolve) => setTimeout(resolve, 200));
        },
        long: async () => {
          await longDone;
        },
      },
      clock,
      logger,
      concurrency: 4,
      leaseMs: 10_000,
      pollMs: 10,
    });
    const short = await queue.enqueue("short", {});
    const long = await queue.enqueue("long", {});
    worker.start();
    try {
      await waitUntil(() => shortStarted && worker.active === 2, {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: "both jobs to run",
      });
      const later = await queue.enqueue("short", {});
      const stopped = await worker.stop(600);
      expect(stopped.unfinished).toBe(1);
      expect((await queue.get(short.job._id))?.state).toBe("succeeded");
      // The job past the timeout keeps its lease: no other worker gets it until it expires.
      const stuck = await queue.get(long.job._id);
      expect(stuck).toMatchObject({ state: "running", leaseOwner: worker.id });
      expect(await queue.claim(["long"], "other", 10_000)).toBeNull();
      // Nothing was claimed after stop.
      expect((await queue.get(later.job._id))?.state).toBe("queued");
      clock.advance(10_001);
      expect((await queue.claim(["long"], "other", 10_000))?.expiredLeaseOf).toBe(worker.id);
    } finally {
      finishLong();
    }
  });
});
