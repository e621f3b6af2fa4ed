import type { Db, Document } from "mongodb";
import { Prng } from "../test/support/prng.js";

const MODEL_VERSIONS = ["chat-1.0", "chat-1.1", "chat-2.0", "summarize-0.9"];
const KINDS = ["thumbs_up", "thumbs_down", "rating", "correction"];
const TAGS = ["latency", "hallucination", "tone", "format", "helpful", "urgent"];

/** Feedback-shaped documents; `key` is indexed, `plain` holds the same value without an index. */
export function benchDocs(count: number, seed: number): Document[] {
  const rng = new Prng(seed);
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, i) => {
    const kind = rng.pick(KINDS);
    return {
      key: i,
      plain: i,
      modelVersion: rng.pick(MODEL_VERSIONS),
      kind,
      ...(kind === "rating" ? { rating: rng.int(1, 5) } : {}),
      latencyMs: rng.int(20, 3000),
      createdAt: new Date(start + i * 1_000),
      tags: rng.sample(TAGS, rng.int(0, 3)),
      user: { id: `u${rng.int(1, 5_000)}`, plan: rng.pick(["free", "pro", "enterprise"]) },
      comment: rng.chance(0.3) ? null : "the answer was fine but a little slow",
    };
  });
}

export interface Timing {
  samples: number;
  medianMs: number;
  p95Ms: number;
  totalMs: number;
}

function summarize(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    samples: sorted.length,
    medianMs: at(0.5),
    p95Ms: at(0.95),
    totalMs: samples.reduce((a, b) => a + b, 0),
  };
}

/** Inserts `docs` in one insertMany (the driver splits it into wire batches) and times it. */
export async function timeInsertMany(db: Db, collection: string, docs: Document[]) {
  const started = performance.now();
  await db.collection(collection).insertMany(docs, { ordered: false });
  const ms = performance.now() - started;
  return { ms, docsPerSec: (docs.length / ms) * 1000 };
}

/**
 * Sequential findOne lookups on `field` for random keys in [0, size). Stops after `count`
 * lookups or once `budgetMs` is spent (a scan at 100k documents can be slow), whichever first.
 */
export async function timeLookups(
  db: Db,
  collection: string,
  field: string,
  size: number,
  { count, budgetMs, seed }: { count: number; budgetMs: number; seed: number },
): Promise<Timing> {
  const rng = new Prng(seed);
  const coll = db.collection(collection);
  const samples: number[] = [];
  const deadline = performance.now() + budgetMs;
  while (samples.length < count && (samples.length < 20 || performance.now() < deadline)) {
    const key = rng.int(0, size - 1);
    const started = performance.now();
    const doc = await coll.findOne({ [field]: key });
    samples.push(performance.now() - started);
    if (doc?.key !== key) throw new Error(`lookup of ${field}=${key} in ${collection} failed`);
  }
  return summarize(samples);
}

export const GROUP_PIPELINE: Document[] = [
  {
    $group: {
      _id: { mv: "$modelVersion", kind: "$kind" },
      n: { $sum: 1 },
      avgLatency: { $avg: "$latencyMs" },
      maxRating: { $max: "$rating" },
    },
  },
  { $sort: { _id: 1 } },
];

export async function timeGroup(db: Db, collection: string, runs: number): Promise<Timing> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const rows = await db.collection(collection).aggregate(GROUP_PIPELINE).toArray();
    samples.push(performance.now() - started);
    if (rows.length !== MODEL_VERSIONS.length * KINDS.length) {
      throw new Error(`$group returned ${rows.length} groups`);
    }
  }
  return summarize(samples);
}
