/**
 * The pipeline's backfill over a seeded history (`BENCH_ONLY=pipeline npm run bench`,
 * `BENCH_PIPELINE_DOCS` feedback, default 100,000): feedback/s of the full pipeline beside two
 * baselines measured in the same run on the same documents — a plain cursor read, and a read
 * plus one bulk `$set` per batch (the least any backfill that writes a result per feedback does).
 */
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { createPipelineService } from "../src/pipeline/service.js";
import { connectStore } from "../src/store/mongo.js";
import { pipelineCorpus } from "../test/support/pipeline-corpus.js";

export interface PipelineBenchResult {
  readonly feedback: number;
  readonly pipelinePerSec: number;
  readonly readPerSec: number;
  readonly readWritePerSec: number;
  readonly routed: number;
  readonly filtered: number;
  readonly duplicates: number;
}

export async function benchPipeline(
  uri: string,
  dbName: string,
  count: number,
  log: (line: string) => void,
): Promise<PipelineBenchResult> {
  const store = await connectStore({ uri, dbName });
  try {
    await store.ensureIndexes();
    const corpus = pipelineCorpus(count, 11);
    const seedStarted = performance.now();
    for (let i = 0; i < corpus.interactions.length; i += 5_000) {
      await store.collections.interactions.insertMany(corpus.interactions.slice(i, i + 5_000));
    }
    for (let i = 0; i < corpus.feedback.length; i += 5_000) {
      await store.collections.feedback.insertMany(corpus.feedback.slice(i, i + 5_000));
    }
    log(
      `  seeded ${count.toLocaleString("en-US")} feedback in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`,
    );
    const config = loadConfig({}).pipeline;

    // Baseline 1: a plain cursor read of the same documents.
    let started = performance.now();
    let read = 0;
    for await (const _ of store.collections.feedback.find({}, { batchSize: 1_000 })) read++;
    const readPerSec = read / ((performance.now() - started) / 1000);

    // Baseline 2: read in batches of the pipeline's size and write one field per feedback.
    started = performance.now();
    let lastId: unknown;
    for (;;) {
      const batch = await store.collections.feedback
        .find(lastId ? { _id: { $gt: lastId as never } } : {}, {
          sort: { _id: 1 },
          limit: config.batchSize,
        })
        .toArray();
      if (batch.length === 0) break;
      await store.collections.feedback.bulkWrite(
        batch.map((doc) => ({
          updateOne: { filter: { _id: doc._id }, update: { $set: { benchMark: 1 } } },
        })),
        { ordered: false },
      );
      lastId = batch[batch.length - 1]!._id;
    }
    const readWritePerSec = count / ((performance.now() - started) / 1000);

    const pipeline = createPipelineService({
      collections: store.collections,
      clock: systemClock,
      config,
      jobs: { enqueue: async () => ({ job: {} as never, created: true }) },
      warn: () => {},
    });
    let lastReport = performance.now();
    started = performance.now();
    const progress = await pipeline.backfill({
      job: {
        id: "bench",
        type: "pipeline.backfill",
        payload: {},
        key: null,
        attempt: 1,
        maxAttempts: 1,
        progress: null,
      },
      signal: new AbortController().signal,
      checkpoint: async (saved) => {
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          log(
            `  … ${Number(saved.processed).toLocaleString("en-US")} of ${Number(saved.total).toLocaleString("en-US")}`,
          );
        }
      },
    });
    const pipelinePerSec = progress.processed / ((performance.now() - started) / 1000);
    const count$ = (filter: object) => store.collections.feedback.countDocuments(filter);
    return {
      feedback: progress.processed,
      pipelinePerSec,
      readPerSec,
      readWritePerSec,
      routed: await count$({ "pipeline.route": { $ne: null } }),
      filtered: await count$({ "pipeline.filtered": { $exists: true } }),
      duplicates: await count$({ "pipeline.duplicateOf": { $exists: true } }),
    };
  } finally {
    await store.db.dropDatabase();
    await store.close();
  }
}

export async function printPipelineBench(uri: string, dbName: string): Promise<void> {
  const count = Number(process.env.BENCH_PIPELINE_DOCS ?? 100_000);
  console.log(`pipeline backfill over ${count.toLocaleString("en-US")} seeded feedback:`);
  const r = await benchPipeline(uri, `${dbName}_pipeline`, count, (line) => console.log(line));
  const int = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(`  full pipeline (backfill, batches of 200):  ${int(r.pipelinePerSec)} feedback/s`);
  console.log(`  baseline: plain cursor read:               ${int(r.readPerSec)} feedback/s`);
  console.log(`  baseline: batched read + one bulk $set:    ${int(r.readWritePerSec)} feedback/s`);
  console.log(
    `  ratio pipeline / read+write baseline: ${(r.pipelinePerSec / r.readWritePerSec).toFixed(2)}  ` +
      `(routed ${int(r.routed)}, filtered ${int(r.filtered)}, duplicates ${int(r.duplicates)})`,
  );
}
