import { performance as perfHooks } from "node:perf_hooks";
import { type Db, MongoClient } from "mongodb";

/**
 * The cheapest database command Loopgate can send: 64 callers at once (as the HTTP bench's 64
 * connections) sending `ping` (no database work) and `findOne` by `_id` through the official
 * driver, with the store where the bench put it. What one command costs the calling thread is
 * the floor under every feedback write, which makes four of them.
 */

const CALLERS = 64;

export interface FloorResult {
  readonly name: string;
  readonly opsPerSec: number;
  /** Busy time of the calling thread (event-loop utilization) per command. */
  readonly callerUsPerOp: number;
}

async function measure(
  name: string,
  seconds: number,
  op: () => Promise<unknown>,
): Promise<FloorResult> {
  let done = 0;
  const before = perfHooks.eventLoopUtilization();
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        await op();
        done += 1;
      }
    }),
  );
  const wallMs = performance.now() - started;
  const { utilization } = perfHooks.eventLoopUtilization(before);
  return {
    name,
    opsPerSec: (done / wallMs) * 1000,
    callerUsPerOp: (utilization * wallMs * 1000) / done,
  };
}

export async function driverFloor(uri: string, dbName: string, seconds = 6) {
  const client = await MongoClient.connect(uri);
  try {
    const db: Db = client.db(dbName);
    const coll = db.collection<{ _id: number; text: string }>("floor");
    await coll.insertMany(
      Array.from({ length: 1_000 }, (_, i) => ({ _id: i, text: "x".repeat(300) })),
    );
    let i = 0;
    // Warm-up: JIT, the connection pool, the store's code paths.
    await measure("warm-up", 2, () => coll.findOne({ _id: i++ % 1_000 }));
    const results = [
      await measure("ping", seconds, () => db.command({ ping: 1 })),
      await measure("findOne by _id", seconds, () => coll.findOne({ _id: i++ % 1_000 })),
    ];
    await coll.drop();
    return results;
  } finally {
    await client.close();
  }
}

export async function printDriverFloor(uri: string, dbName: string) {
  const results = await driverFloor(uri, `${dbName}_floor`);
  console.log(`driver round trips, ${CALLERS} callers at once (the floor under every write):`);
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(16)} ${Math.round(r.opsPerSec).toLocaleString("en-US").padStart(7)} ops/s, ` +
        `${Math.round(r.callerUsPerOp)} µs of the calling thread per command`,
    );
  }
}
