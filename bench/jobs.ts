import { type MongoClient, ObjectId } from "mongodb";
import { systemClock } from "../src/clock.js";
import { createJobQueue } from "../src/jobs/queue.js";
import { createJobWorker, type JobWorker } from "../src/jobs/worker.js";
import { createLogger } from "../src/observability/logger.js";
import type { JobDoc } from "../src/store/job-doc.js";
import { indexDeclarations } from "../src/store/schema.js";

export interface QueueBench {
  readonly jobs: number;
  readonly enqueuePerSec: number;
  /** Claimed and completed per second by 2 workers (jobs enqueued beforehand). */
  readonly drainPerSec: number;
  /** The same number of plain insert + findOneAndUpdate round trips, on 2 concurrent loops. */
  readonly baselinePerSec: number;
}

const WORKERS = 2;

/**
 * Queue throughput against what the store does with the bare operations a queue is made of.
 * Each worker has its own client, like two processes; each job is a claim (findOneAndUpdate)
 * and a completion (updateOne) after its enqueue (insertOne).
 */
export async function benchQueue(
  clients: readonly MongoClient[],
  dbName: string,
  jobs: number,
): Promise<QueueBench> {
  const [first] = clients;
  if (!first || clients.length < WORKERS) throw new Error(`needs ${WORKERS} clients`);
  const db = first.db(dbName);
  await db.collection("jobs").createIndexes([...indexDeclarations.jobs]);
  const queueOn = (client: MongoClient) =>
    createJobQueue({
      collection: client.db(dbName).collection<JobDoc>("jobs"),
      clock: systemClock,
      types: [{ name: "bench" }],
      keepFinishedMs: 3_600_000,
    });

  const enqueueStarted = performance.now();
  const producer = queueOn(first);
  // Two producers, like two API processes.
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, lane) => {
      for (let i = lane; i < jobs; i += WORKERS) await producer.enqueue("bench", { i });
    }),
  );
  const enqueueMs = performance.now() - enqueueStarted;

  let finished = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const logger = createLogger({ level: "silent" });
  const workers: JobWorker[] = clients.slice(0, WORKERS).map((client, n) =>
    createJobWorker({
      queue: queueOn(client),
      handlers: { bench: async () => undefined },
      clock: systemClock,
      logger,
      concurrency: 1,
      leaseMs: 30_000,
      pollMs: 5,
      workerId: `bench-${n}`,
      observer: {
        runFinished(_type, outcome) {
          if (outcome === "succeeded" && ++finished === jobs) allDone();
        },
      },
    }),
  );
  const drainStarted = performance.now();
  for (const worker of workers) worker.start();
  await done;
  const drainMs = performance.now() - drainStarted;
  await Promise.all(workers.map((worker) => worker.stop(5_000)));

  // Baseline: per item one insert and one findOneAndUpdate, two loops at once.
  const plain = db.collection<{ _id: ObjectId; n: number; state: string }>("baseline");
  await plain.createIndex({ state: 1 });
  const baselineStarted = performance.now();
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, lane) => {
      for (let i = lane; i < jobs; i += WORKERS) {
        const _id = new ObjectId();
        await plain.insertOne({ _id, n: i, state: "new" });
        await plain.findOneAndUpdate({ _id, state: "new" }, { $set: { state: "done" } });
      }
    }),
  );
  const baselineMs = performance.now() - baselineStarted;

  return {
    jobs,
    enqueuePerSec: (jobs / enqueueMs) * 1000,
    drainPerSec: (jobs / drainMs) * 1000,
    baselinePerSec: (jobs / baselineMs) * 1000,
  };
}
