import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BSON, type Document } from "bson";
import { MongoClient } from "mongodb";
import { STORE_FILE } from "../src/store/embedded/storage.js";
import { killProcess, spawnEmbeddedStore } from "../test/support/embedded-process.js";
import { Prng } from "../test/support/prng.js";

/**
 * The embedded store at scale, in its own process (so its RSS is the store's alone):
 * feedback-shaped documents of about 500 bytes of BSON, loaded through the driver, then the
 * store restarted (time to ready), indexed lookups and a 7-day $group, each beside a baseline
 * measured in the same run: the same rows read straight from SQLite (decode included).
 */

const DAY = 86_400_000;
/**
 * The store runs one command at a time on its event loop, so a long $group also delays the
 * driver's monitor heartbeat: the bench waits rather than treating that as a dead server.
 */
const LONG_RUNNING = {
  serverSelectionTimeoutMS: 600_000,
  connectTimeoutMS: 600_000,
  socketTimeoutMS: 0,
} as const;
const WINDOW_DOCS = 1_000_000;
const BATCH = 5_000;
const MODEL_VERSIONS = ["chat-1.0", "chat-1.1", "chat-2.0", "summarize-0.9"];
const KINDS = ["thumbs_up", "thumbs_down", "rating", "correction"];
const WORDS = ["answer", "model", "latency", "helpful", "wrong", "format", "source", "cite"];

export interface ScaleResult {
  docs: number;
  avgBsonBytes: number;
  insertDocsPerSec: number;
  readyMs: number;
  rssMb: number;
  peakRssMb: number;
  lookupMedianMs: number;
  baselineLookupMedianMs: number;
  groupDocs: number;
  groupDocsPerSec: number;
  baselineScanDocsPerSec: number;
  fileMb: number;
}

/** One feedback-shaped document; `createdAt` spreads min(count, 1M) documents over 7 days. */
function scaleDoc(rng: Prng, i: number, count: number, end: number): Document {
  const spacing = (7 * DAY) / Math.min(count, WINDOW_DOCS);
  const kind = rng.pick(KINDS);
  const words = (n: number) => Array.from({ length: n }, () => rng.pick(WORDS)).join(" ");
  return {
    key: i,
    interactionId: `int_${(i * 7919).toString(36).padStart(10, "0")}`,
    modelId: "support-bot",
    modelVersion: rng.pick(MODEL_VERSIONS),
    kind,
    ...(kind === "rating" ? { rating: rng.int(1, 5) } : {}),
    latencyMs: rng.int(20, 3000),
    createdAt: new Date(end - (count - i) * spacing),
    raterId: `r_${rng.int(1, 50_000)}`,
    sessionId: `s_${rng.int(1, 200_000)}`,
    tags: rng.sample(["latency", "hallucination", "tone", "format", "helpful"], rng.int(0, 3)),
    comment: words(rng.int(20, 40)),
    metadata: { client: "web", locale: rng.pick(["en", "de", "fr"]), plan: "pro" },
  };
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const GROUP = (since: Date): Document[] => [
  { $match: { createdAt: { $gte: since } } },
  {
    $group: {
      _id: "$modelVersion",
      n: { $sum: 1 },
      avgLatency: { $avg: "$latencyMs" },
      ratings: { $sum: { $cond: [{ $eq: ["$kind", "rating"] }, 1, 0] } },
    },
  },
];

export async function runScale(
  dbPath: string,
  count: number,
  log: (line: string) => void,
): Promise<ScaleResult> {
  const end = Date.UTC(2026, 0, 1);
  const since = new Date(end - 7 * DAY);
  let store = await spawnEmbeddedStore(dbPath);
  let client = new MongoClient(store.uri, LONG_RUNNING);
  const coll = () => client.db("bench").collection("feedback");
  let bsonBytes = 0;
  try {
    await coll().createIndex({ key: 1 });
    await coll().createIndex({ createdAt: 1 });
    const rng = new Prng(42);
    const started = performance.now();
    for (let from = 0; from < count; from += BATCH) {
      const batch: Document[] = [];
      for (let i = from; i < Math.min(count, from + BATCH); i++) {
        const doc = scaleDoc(rng, i, count, end);
        batch.push(doc);
      }
      bsonBytes += batch.reduce((n, d) => n + BSON.calculateObjectSize(d) + 17, 0);
      await coll().insertMany(batch, { ordered: false });
      if ((from / BATCH) % 40 === 39) log(`  loaded ${(from + BATCH).toLocaleString("en-US")}`);
    }
    const insertMs = performance.now() - started;
    await client.close();
    await killProcess(store.child, "SIGTERM");

    // Baseline: the same rows straight from SQLite, without the store.
    const db = new Database(join(dbPath, STORE_FILE), { readonly: true });
    const table = (
      db.prepare("SELECT table_id FROM catalog WHERE name = 'feedback'").get() as {
        table_id: number;
      }
    ).table_id;
    const ids = db.prepare(`SELECT id FROM docs_${table} WHERE rid = ?`);
    const byId = db.prepare(`SELECT doc FROM docs_${table} WHERE id = ?`);
    const lookupRng = new Prng(7);
    const baselineSamples: number[] = [];
    for (let n = 0; n < 2_000; n++) {
      const { id } = ids.get(lookupRng.int(1, count)) as { id: string };
      const t = performance.now();
      BSON.deserialize((byId.get(id) as { doc: Buffer }).doc);
      baselineSamples.push(performance.now() - t);
    }
    const scanStarted = performance.now();
    let scanned = 0;
    const groups = new Map<string, number>();
    for (const row of db.prepare(`SELECT doc FROM docs_${table}`).iterate() as Iterable<{
      doc: Buffer;
    }>) {
      const doc = BSON.deserialize(row.doc);
      if (doc.createdAt >= since) {
        scanned++;
        groups.set(doc.modelVersion, (groups.get(doc.modelVersion) ?? 0) + 1);
      }
    }
    const baselineScanMs = performance.now() - scanStarted;
    db.close();

    // Restart: from listening (the URI line) until a command is answered, i.e. until the
    // indexes are rebuilt from SQLite (process start-up itself not counted).
    store = await spawnEmbeddedStore(dbPath);
    const restarted = performance.now();
    client = new MongoClient(store.uri, LONG_RUNNING);
    await client.db("bench").command({ ping: 1 });
    const readyMs = performance.now() - restarted;

    const samples: number[] = [];
    for (let n = 0; n < 2_000; n++) {
      const key = lookupRng.int(0, count - 1);
      const t = performance.now();
      const doc = await coll().findOne({ key });
      samples.push(performance.now() - t);
      if (doc?.key !== key) throw new Error(`lookup of key ${key} failed`);
    }
    await coll().aggregate(GROUP(since)).toArray();
    const groupStarted = performance.now();
    const rows = await coll().aggregate(GROUP(since)).toArray();
    const groupMs = performance.now() - groupStarted;
    const groupDocs = rows.reduce((n, r) => n + (r.n as number), 0);
    if (groupDocs !== scanned) throw new Error(`$group counted ${groupDocs}, SQLite ${scanned}`);
    const { rss, peak } = rssMb(store.child.pid!);
    const stats = await client.db("bench").command({ dbStats: 1 });
    const fileMb = Number(stats.fsUsedSize ?? 0) / 1048576;
    return {
      docs: count,
      avgBsonBytes: bsonBytes / count,
      insertDocsPerSec: (count / insertMs) * 1000,
      readyMs,
      rssMb: rss,
      peakRssMb: peak,
      lookupMedianMs: median(samples),
      baselineLookupMedianMs: median(baselineSamples),
      groupDocs,
      groupDocsPerSec: (groupDocs / groupMs) * 1000,
      baselineScanDocsPerSec: (scanned / baselineScanMs) * 1000,
      fileMb,
    };
  } finally {
    await client.close().catch(() => undefined);
    await killProcess(store.child, "SIGTERM");
  }
}
