import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { startStoreThread } from "../src/store/embedded/thread.js";
import { benchDocs } from "./store.js";

/**
 * Concurrent single-document writes against the store as Loopgate runs it (its own thread, the
 * private Unix socket): group commit on, beside the same load with a commit (an fsync) per write
 * in the same run. Reports writes/s, latency and how many writes each commit carried.
 */

export interface GroupCommitResult {
  readonly grouped: boolean;
  readonly writesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly writesPerCommit: number;
}

async function measure(
  grouped: boolean,
  writers: number,
  durationMs: number,
): Promise<GroupCommitResult> {
  const dbPath = await mkdtemp(join(tmpdir(), "loopgate-bench-commit-"));
  const store = await startStoreThread({ dbPath, groupCommit: grouped });
  const client = new MongoClient(store.uri, { maxPoolSize: writers });
  try {
    await client.connect();
    const items = client.db("bench").collection("writes");
    await items.insertOne({ warm: true });
    // Warm the pool so every writer has its own connection before the clock starts.
    await Promise.all(Array.from({ length: writers }, () => items.findOne({ warm: true })));
    const docs = benchDocs(2_000, 7);
    const before = (await store.stats()).commits;
    const latencies: number[] = [];
    let n = 0;
    const started = performance.now();
    const deadline = started + durationMs;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (performance.now() < deadline) {
          const { _id, ...doc } = docs[n++ % docs.length]!;
          const t = performance.now();
          await items.insertOne({ ...doc });
          latencies.push(performance.now() - t);
        }
      }),
    );
    const elapsed = performance.now() - started;
    const after = (await store.stats()).commits;
    latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return {
      grouped,
      writesPerSec: (latencies.length / elapsed) * 1000,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      writesPerCommit: (after.writes - before.writes) / Math.max(1, after.groups - before.groups),
    };
  } finally {
    await client.close();
    await store.close();
    await rm(dbPath, { recursive: true, force: true });
  }
}

export async function benchGroupCommit(
  writers = 64,
  durationMs = 4_000,
): Promise<{ perWrite: GroupCommitResult; grouped: GroupCommitResult }> {
  // A short untimed round first: JIT and the SQLite code paths warm in both variants alike.
  await measure(true, writers, 500);
  const perWrite = await measure(false, writers, durationMs);
  const grouped = await measure(true, writers, durationMs);
  return { perWrite, grouped };
}
