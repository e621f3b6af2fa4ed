/**
 * `npm run bench [-- --only store|scale|http] [--duration <s>] [--warmup <s>] [--connections <n>]
 * [--profile] [--docs <n>]`. The store section starts an embedded store in a temp dir (or uses
 * BENCH_MONGODB_URI) and measures bulk inserts, indexed vs. unindexed lookups and a $group, then
 * the job queue's throughput against plain round trips (`BENCH_ONLY=jobs` runs only the queue;
 * `BENCH_ONLY=pipeline` only the pipeline's backfill, bench/pipeline.ts),
 * a dataset snapshot's build and export over 100,000 feedback against a plain cursor read
 * (`BENCH_ONLY=datasets` runs only that; BENCH_DATASET_FEEDBACK changes the count), the cost of
 * one driver round trip at 64 callers (`BENCH_ONLY=driver`, bench/driver-floor.ts),
 * then, for the embedded store, the scale section (bench/scale.ts) with `--docs` documents
 * (default 200,000; `--docs 2000000` for the figure the README quotes; `--only scale` runs only
 * this section). The HTTP
 * section (bench/http.ts) loads the compiled gateway against bare Node and bare Yoga.
 */

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { type StoreThread, startStoreThread } from "../src/store/embedded/thread.js";
import { printDatasetBench } from "./datasets.js";
import { printDriverFloor } from "./driver-floor.js";
import { benchGroupCommit } from "./group-commit.js";
import { runHttpBench } from "./http.js";
import { benchQueue } from "./jobs.js";
import { printMetricsBench } from "./metrics.js";
import { printPipelineBench } from "./pipeline.js";
import { runScale } from "./scale.js";
import { benchDocs, type Timing, timeGroup, timeInsertMany, timeLookups } from "./store.js";

const LARGE = 100_000;
const SMALL = 10_000;
const LOOKUPS = 2_000;
const QUEUE_JOBS = 2_000;

function fmt(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  return `${ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`;
}
const int = (n: number) => Math.round(n).toLocaleString("en-US");

function row(cells: string[], widths: number[]) {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

async function scaleSection(count: number) {
  console.log("");
  console.log(`Scale: ${int(count)} feedback-shaped documents in a separate store process`);
  const dir = await mkdtemp(join(tmpdir(), "loopgate-bench-scale-"));
  try {
    const r = await runScale(dir, count, (line) => console.log(line));
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    console.log(
      `  average document: ${int(r.avgBsonBytes)} B BSON; SQLite file ${int(r.fileMb)} MB`,
    );
    console.log(`  insertMany (batches of 5,000): ${int(r.insertDocsPerSec)} docs/s`);
    console.log(`  restart: listening until the first command is answered: ${int(r.readyMs)} ms`);
    console.log(
      `  store RSS after lookups and $group: ${int(r.rssMb)} MB (peak ${int(r.peakRssMb)} MB)`,
    );
    console.log(
      `  indexed findOne median: ${fmt(r.lookupMedianMs)}; SQLite row by id + decode: ` +
        `${fmt(r.baselineLookupMedianMs)} (${x(r.lookupMedianMs, r.baselineLookupMedianMs)})`,
    );
    console.log(
      `  7-day $group over ${int(r.groupDocs)} docs: ${int(r.groupDocsPerSec)} docs/s; ` +
        `SQLite scan + decode + count: ${int(r.baselineScanDocsPerSec)} docs/s ` +
        `(${x(r.groupDocsPerSec, r.baselineScanDocsPerSec)})`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runStoreBench(scaleDocs: number) {
  const external = process.env.BENCH_MONGODB_URI;
  let dbPath: string | undefined;
  let store: StoreThread | undefined;
  let uri: string;
  if (external) {
    uri = external;
  } else {
    dbPath = await mkdtemp(join(tmpdir(), "loopgate-bench-"));
    // As Loopgate runs it: on its own thread, reached through its private socket.
    store = await startStoreThread({ dbPath });
    await store.ready;
    uri = store.uri;
  }
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  // A second client, so the queue's two workers connect like two processes.
  const second = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  const dbName = `bench_${randomBytes(4).toString("hex")}`;
  const db = client.db(dbName);
  const benchStarted = performance.now();
  try {
    await client.connect();
    await second.connect();
    if (process.env.BENCH_ONLY === "metrics") {
      await printMetricsBench(uri, dbName);
      return;
    }
    if (process.env.BENCH_ONLY === "jobs") {
      await printQueueBench(client, second, dbName);
      return;
    }
    if (process.env.BENCH_ONLY === "pipeline") {
      await printPipelineBench(uri, dbName);
      return;
    }
    if (process.env.BENCH_ONLY === "datasets") {
      await printDatasetBench(client, uri, dbName);
      return;
    }
    if (process.env.BENCH_ONLY === "driver") {
      await printDriverFloor(uri, dbName);
      return;
    }
    console.log(
      `Loopgate store benchmark: ${external ? "BENCH_MONGODB_URI" : "embedded store"} ` +
        `(node ${process.version}, ${cpus().length} cores)`,
    );

    // Warm-up: JIT, connection pool, SQLite page cache and the store's code paths.
    const warm = benchDocs(5_000, 1);
    await db.collection("warmup").insertMany(warm);
    await db.collection("warmup").createIndex({ key: 1 });
    await timeLookups(db, "warmup", "key", warm.length, { count: 300, budgetMs: 2_000, seed: 2 });
    await timeLookups(db, "warmup", "plain", warm.length, { count: 30, budgetMs: 2_000, seed: 3 });
    await timeGroup(db, "warmup", 2);
    await db.collection("warmup").drop();

    const largeDocs = benchDocs(LARGE, 10);
    const insert = await timeInsertMany(db, "large", largeDocs);
    await db.collection("small").insertMany(benchDocs(SMALL, 11));
    const indexStarted = performance.now();
    await db.collection("large").createIndex({ key: 1 });
    const indexMs = performance.now() - indexStarted;
    await db.collection("small").createIndex({ key: 1 });

    const lookup = (coll: string, field: string, size: number, budgetMs: number, seed: number) =>
      timeLookups(db, coll, field, size, { count: LOOKUPS, budgetMs, seed });
    // A few untimed lookups per collection first, so each measurement starts warm.
    await lookup("small", "key", SMALL, 1_000, 90);
    await lookup("large", "key", LARGE, 1_000, 91);
    const idx10k = await lookup("small", "key", SMALL, 60_000, 100);
    const idx100k = await lookup("large", "key", LARGE, 60_000, 101);
    const scan10k = await lookup("small", "plain", SMALL, 8_000, 102);
    const scan100k = await lookup("large", "plain", LARGE, 12_000, 103);

    await timeGroup(db, "large", 1);
    const group = await timeGroup(db, "large", 3);

    const widths = [40, 9, 11, 11];
    const line = (label: string, t: Timing) =>
      console.log(row([label, int(t.samples), fmt(t.medianMs), fmt(t.p95Ms)], widths));
    console.log("");
    console.log(
      `insertMany ${int(LARGE)} docs: ${int(insert.ms)} ms = ${int(insert.docsPerSec)} docs/s`,
    );
    console.log(`createIndex {key: 1} on ${int(LARGE)} docs: ${int(indexMs)} ms`);
    console.log("");
    console.log(row(["findOne({field: <random>})", "lookups", "median", "p95"], widths));
    console.log("-".repeat(widths.reduce((a, b) => a + b + 2, -2)));
    line(`indexed   key   @ ${int(SMALL)} docs`, idx10k);
    line(`indexed   key   @ ${int(LARGE)} docs`, idx100k);
    line(`no index  plain @ ${int(SMALL)} docs`, scan10k);
    line(`no index  plain @ ${int(LARGE)} docs`, scan100k);
    console.log("");
    const ratio = (a: Timing, b: Timing) => (b.medianMs / a.medianMs).toFixed(2);
    console.log(
      `lookup ratio 100k/10k, indexed:   ${ratio(idx10k, idx100k)}  (≈1: the index is used)`,
    );
    console.log(
      `lookup ratio 100k/10k, unindexed: ${ratio(scan10k, scan100k)}  (≈10: a collection scan)`,
    );
    console.log("");
    console.log(
      `$group over ${int(LARGE)} docs: median ${fmt(group.medianMs)} of ${group.samples} runs ` +
        `(p95 ${fmt(group.p95Ms)})`,
    );
    console.log("");
    await printGroupCommitBench();
    console.log("");
    await printDriverFloor(uri, dbName);
    console.log("");
    await printQueueBench(client, second, dbName);
    console.log("");
    await printDatasetBench(client, uri, dbName);
    if (!external && scaleDocs > 0) await scaleSection(scaleDocs);
    console.log(`total bench time: ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
    await second.close();
    await store?.close();
    if (dbPath) await rm(dbPath, { recursive: true, force: true });
  }
}

async function printGroupCommitBench() {
  const { perWrite, grouped } = await benchGroupCommit();
  const widths = [44, 10, 9, 9, 16];
  console.log(
    "insertOne, 64 concurrent writers, store on its own thread (private socket), as Loopgate runs it:",
  );
  console.log(row(["", "writes/s", "p50", "p99", "writes/commit"], widths));
  for (const [label, r] of [
    ["a commit (fsync) per write (baseline)", perWrite],
    ["group commit", grouped],
  ] as const) {
    console.log(
      row(
        [label, int(r.writesPerSec), fmt(r.p50Ms), fmt(r.p99Ms), r.writesPerCommit.toFixed(1)],
        widths,
      ),
    );
  }
  console.log(
    `  ratio group commit / baseline: ${(grouped.writesPerSec / perWrite.writesPerSec).toFixed(2)}× writes/s, ` +
      `p99 ${(grouped.p99Ms / perWrite.p99Ms).toFixed(2)}×`,
  );
}

async function printQueueBench(first: MongoClient, second: MongoClient, dbName: string) {
  // Warm-up on a few jobs first, so the figures below start warm.
  await benchQueue([first, second], `${dbName}_warm`, 200);
  await first.db(`${dbName}_warm`).dropDatabase();
  const result = await benchQueue([first, second], dbName, QUEUE_JOBS);
  console.log(`job queue, ${int(result.jobs)} jobs, 2 workers (concurrency 1 each):`);
  console.log(`  enqueue (insertOne, 2 producers):      ${int(result.enqueuePerSec)} jobs/s`);
  console.log(`  claimed and completed:                 ${int(result.drainPerSec)} jobs/s`);
  console.log(`  baseline insert + findOneAndUpdate:    ${int(result.baselinePerSec)} pairs/s`);
  console.log(
    `  ratio queue drain / baseline: ${(result.drainPerSec / result.baselinePerSec).toFixed(2)}  ` +
      "(both are 2 round trips per item; ≈1 means the queue adds little beyond them)",
  );
}

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    duration: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "64" },
    profile: { type: "boolean", default: false },
    docs: { type: "string", default: "200000" },
  },
  strict: true,
});
const positive = (name: string, value: string) => {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return number;
};
if (values.only !== undefined && !["store", "scale", "http"].includes(values.only)) {
  throw new Error("--only must be store, scale or http");
}
if (values.only === "scale") await scaleSection(positive("docs", values.docs));
else if (values.only !== "http") await runStoreBench(positive("docs", values.docs));
if (values.only !== "store" && values.only !== "scale" && !process.env.BENCH_ONLY) {
  await runHttpBench({
    durationSec: positive("duration", values.duration),
    warmupSec: positive("warmup", values.warmup),
    connections: positive("connections", values.connections),
    profile: values.profile,
  });
}
