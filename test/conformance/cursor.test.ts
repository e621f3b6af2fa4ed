import { type CommandStartedEvent, type Long, MongoServerError } from "mongodb";
import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";
import { Prng } from "../support/prng.js";

// Command monitoring lets the test see that the driver really fetched many batches.
const t = useTestDatabase({ monitorCommands: true });

const TOTAL = 10_000;
const BATCH = 500;

interface Row {
  _id: number;
  /** A shuffled rank, so sort order differs from insertion order. */
  rank: number;
  pad: string;
}

const coll = () => t.db.collection<Row>("cursor_rows");

function commandsFor(name: string, events: CommandStartedEvent[]): CommandStartedEvent[] {
  return events.filter((e) => e.commandName === name && e.databaseName === t.name);
}

beforeAll(async () => {
  const rng = new Prng(7);
  const ranks = Array.from({ length: TOTAL }, (_, i) => i);
  for (let i = ranks.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [ranks[i], ranks[j]] = [ranks[j] as number, ranks[i] as number];
  }
  const rows = ranks.map((rank, i) => ({ _id: i, rank, pad: "x".repeat(64) }));
  for (let i = 0; i < rows.length; i += 2_500) await coll().insertMany(rows.slice(i, i + 2_500));
}, 120_000);

describe("cursors", () => {
  it("reads 10,000 documents in sort order across many batches, each once", async () => {
    const events: CommandStartedEvent[] = [];
    const listener = (e: CommandStartedEvent) => events.push(e);
    t.client.on("commandStarted", listener);
    try {
      const seen = new Set<number>();
      let expectedRank = 0;
      for await (const row of coll().find({}).sort({ rank: 1 }).batchSize(BATCH)) {
        expect(row.rank).toBe(expectedRank);
        expect(seen.has(row._id)).toBe(false);
        seen.add(row._id);
        expectedRank++;
      }
      expect(seen.size).toBe(TOTAL);
    } finally {
      t.client.off("commandStarted", listener);
    }
    expect(commandsFor("find", events)).toHaveLength(1);
    // 10,000 / 500 = 20 batches: the find's own plus at least 19 getMores.
    expect(commandsFor("getMore", events).length).toBeGreaterThanOrEqual(TOTAL / BATCH - 1);
  }, 120_000);

  it("iterates an unsorted query with a filter across batches", async () => {
    let count = 0;
    const seen = new Set<number>();
    const cursor = coll()
      .find({ _id: { $mod: [3, 0] } }, { projection: { _id: 1 } })
      .batchSize(101);
    for await (const row of cursor) {
      expect(row._id % 3).toBe(0);
      seen.add(row._id);
      count++;
    }
    expect(count).toBe(Math.ceil(TOTAL / 3));
    expect(seen.size).toBe(count);
  }, 60_000);

  it("an aggregate cursor also spans batches", async () => {
    const rows = await coll()
      .aggregate<{ _id: number }>([{ $match: { rank: { $lt: 3_000 } } }, { $sort: { _id: -1 } }], {
        batchSize: 250,
      })
      .toArray();
    expect(rows).toHaveLength(3_000);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!._id).toBeLessThan(rows[i - 1]!._id);
  }, 60_000);

  it("closing a cursor early kills it on the server", async () => {
    const events: CommandStartedEvent[] = [];
    const listener = (e: CommandStartedEvent) => events.push(e);
    t.client.on("commandStarted", listener);
    const cursor = coll().find({}).sort({ rank: 1 }).batchSize(BATCH);
    let cursorId: Long | undefined;
    try {
      for (let i = 0; i < BATCH + 10; i++) expect((await cursor.next())?.rank).toBe(i);
      cursorId = cursor.id;
      expect(cursorId?.isZero()).toBe(false);
      await cursor.close();
    } finally {
      t.client.off("commandStarted", listener);
    }
    // `killed`, not `closed`: closed stays false while the driver still buffers fetched documents.
    expect(cursor.killed).toBe(true);
    const kills = commandsFor("killCursors", events);
    expect(kills).toHaveLength(1);
    expect(kills[0]?.command.cursors).toEqual([cursorId]);

    // The server no longer knows the cursor: a getMore on it is CursorNotFound.
    const err = await t.db
      .command({ getMore: cursorId, collection: "cursor_rows", batchSize: 10 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(43);
  });

  it("killCursors reports the cursors it killed", async () => {
    // promoteLongs: false keeps cursor ids as Long: a getMore must send them back as int64.
    const raw = { promoteLongs: false };
    const first = await t.db.command({ find: "cursor_rows", filter: {}, batchSize: 5 }, raw);
    const id = first.cursor.id as Long;
    expect(first.cursor.firstBatch).toHaveLength(5);
    expect(first.cursor.ns).toBe(`${t.name}.cursor_rows`);
    const more = await t.db.command({ getMore: id, collection: "cursor_rows", batchSize: 5 }, raw);
    expect(more.cursor.nextBatch).toHaveLength(5);
    expect(more.cursor.id.toString()).toBe(id.toString());
    const killed = await t.db.command({ killCursors: "cursor_rows", cursors: [id] }, raw);
    expect(killed.cursorsKilled.map(String)).toEqual([id.toString()]);
    expect(killed.cursorsNotFound).toEqual([]);
  });

  it("a cursor that returns everything in its first batch has id 0", async () => {
    const res = await t.db.command({ find: "cursor_rows", filter: { _id: { $lt: 3 } } });
    expect(res.cursor.firstBatch).toHaveLength(3);
    expect(res.cursor.id.toString()).toBe("0");
  });
});
