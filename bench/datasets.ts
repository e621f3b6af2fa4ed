import { type MongoClient, ObjectId } from "mongodb";
import { systemActor } from "../src/auth/actor.js";
import { systemClock } from "../src/clock.js";
import { createSnapshotReader } from "../src/datasets/export.js";
import { createDatasetService } from "../src/datasets/snapshots.js";
import { createAgreementReportService } from "../src/pipeline/agreement-reports.js";
import { type Collections, connectStore } from "../src/store/mongo.js";
import { generateDatasetCorpus } from "../test/support/dataset-corpus.js";

export interface DatasetBench {
  readonly feedback: number;
  readonly rows: number;
  readonly bytes: number;
  /** Seconds per phase of the build: reading feedback and interactions, building rows, writing. */
  readonly phases: Record<string, number>;
  readonly buildSeconds: number;
  readonly exportSeconds: number;
  /** A plain cursor read of the same feedback and interaction documents. */
  readonly baselineSeconds: number;
}

/**
 * Builds and exports a DPO snapshot (it reads every feedback kind of the corpus: thumbs, ratings,
 * corrections, comparisons) over `count` seeded feedback, beside the baseline of reading the
 * same documents with a plain cursor.
 */
export async function benchDatasets(
  uri: string,
  dbName: string,
  count: number,
): Promise<DatasetBench> {
  const store = await connectStore({ uri, dbName });
  try {
    await store.ensureIndexes();
    const corpus = generateDatasetCorpus(count, { seed: 5 });
    const collections: Collections = store.collections;
    for (let i = 0; i < corpus.interactions.length; i += 5_000) {
      await collections.interactions.insertMany(corpus.interactions.slice(i, i + 5_000));
    }
    for (let i = 0; i < corpus.feedback.length; i += 5_000) {
      await collections.feedback.insertMany(corpus.feedback.slice(i, i + 5_000));
    }

    const baselineStarted = performance.now();
    let seen = 0;
    for await (const _doc of collections.feedback.find({})) seen += 1;
    for await (const _doc of collections.interactions.find({})) seen += 1;
    const baselineSeconds = (performance.now() - baselineStarted) / 1000;
    if (seen !== corpus.feedback.length + corpus.interactions.length) {
      throw new Error(`baseline read ${seen} documents`);
    }

    const agreement = createAgreementReportService({
      collections,
      clock: systemClock,
      minItems: 3,
    });
    const datasets = createDatasetService({
      collections,
      clock: systemClock,
      agreement,
      enqueue: async () => new ObjectId(),
    });
    const phases: Record<string, number> = {};
    const buildStarted = performance.now();
    let phaseStarted = buildStarted;
    let phase = "create";
    const { snapshot } = await datasets.create(
      { kind: "dpo", evalFraction: 0.1 },
      systemActor("bench"),
    );
    const built = await datasets.build(snapshot._id, {
      progress: async (progress) => {
        const next = String(progress.phase);
        if (next === phase) return;
        const now = performance.now();
        phases[phase] = (phases[phase] ?? 0) + (now - phaseStarted) / 1000;
        phase = next;
        phaseStarted = now;
      },
    });
    const buildSeconds = (performance.now() - buildStarted) / 1000;

    const exportStarted = performance.now();
    const reader = createSnapshotReader(collections);
    let bytes = 0;
    let rows = 0;
    for (const split of ["train", "eval"] as const) {
      for await (const line of reader.lines(snapshot._id, split)) {
        bytes += Buffer.byteLength(line);
        rows += 1;
      }
    }
    const exportSeconds = (performance.now() - exportStarted) / 1000;
    if (rows !== (built.counts?.train ?? 0) + (built.counts?.eval ?? 0)) {
      throw new Error(`exported ${rows} rows`);
    }
    return {
      feedback: count,
      rows,
      bytes,
      phases,
      buildSeconds,
      exportSeconds,
      baselineSeconds,
    };
  } finally {
    await store.close();
  }
}

export async function printDatasetBench(client: MongoClient, uri: string, dbName: string) {
  void client;
  const count = Number(process.env.BENCH_DATASET_FEEDBACK ?? 100_000);
  const r = await benchDatasets(uri, `${dbName}_datasets`, count);
  const s = (seconds: number) => `${seconds.toFixed(2)} s`;
  console.log(`dataset snapshot (DPO) over ${r.feedback.toLocaleString("en-US")} feedback:`);
  console.log(
    `  build:  ${s(r.buildSeconds)} (${Object.entries(r.phases)
      .map(([phase, seconds]) => `${phase} ${s(seconds)}`)
      .join(", ")})`,
  );
  console.log(
    `  export: ${s(r.exportSeconds)} (${r.rows.toLocaleString("en-US")} rows, ${(r.bytes / 1e6).toFixed(1)} MB)`,
  );
  console.log(`  build + export: ${s(r.buildSeconds + r.exportSeconds)} (target < 10 s)`);
  console.log(
    `  baseline, plain cursor read of the same feedback and interactions: ${s(r.baselineSeconds)}`,
  );
  console.log(
    `  ratio (build + export) / baseline: ${((r.buildSeconds + r.exportSeconds) / r.baselineSeconds).toFixed(2)}`,
  );
}
