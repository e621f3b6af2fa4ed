import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";
import { waitUntil } from "../support/poll.js";

const t = useTestDatabase();

// A real mongod may need one or two monitor passes after the index build; 90 s covers it.
const TTL_DEADLINE_MS = 90_000;

interface Session {
  _id: string;
  expiresAt?: unknown;
}

describe("TTL indexes", () => {
  beforeAll(async () => {
    const res = await t.client.db("admin").command({ setParameter: 1, ttlMonitorSleepSecs: 1 });
    expect(res.ok).toBe(1);
  });

  afterAll(async () => {
    await t.client.db("admin").command({ setParameter: 1, ttlMonitorSleepSecs: 60 });
  });

  it(
    "the monitor removes expired documents and keeps the rest",
    async () => {
      const sessions = t.db.collection<Session>("sessions");
      await sessions.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
      const now = Date.now();
      await sessions.insertMany([
        { _id: "expired", expiresAt: new Date(now - 60_000) },
        { _id: "expired-in-array", expiresAt: [new Date(now + 3_600_000), new Date(now - 60_000)] },
        { _id: "future", expiresAt: new Date(now + 3_600_000) },
        // Only dates expire: other values and a missing field never do.
        { _id: "not-a-date", expiresAt: "2000-01-01T00:00:00Z" },
        { _id: "no-field" },
      ]);

      await waitUntil(async () => (await sessions.countDocuments({ _id: "expired" })) === 0, {
        timeoutMs: TTL_DEADLINE_MS,
        what: "the TTL monitor to delete the expired document",
      });
      // An array expires on its earliest date; it may be removed in the same or the next pass.
      await waitUntil(
        async () => (await sessions.countDocuments({ _id: "expired-in-array" })) === 0,
        { timeoutMs: TTL_DEADLINE_MS, what: "the array-dated document to expire" },
      );

      const left = (await sessions.find().sort({ _id: 1 }).toArray()).map((d) => d._id);
      expect(left).toEqual(["future", "no-field", "not-a-date"]);
    },
    TTL_DEADLINE_MS * 2 + 10_000,
  );

  it(
    "expireAfterSeconds is counted from the indexed date",
    async () => {
      const events = t.db.collection<{ _id: string; at: Date }>("events");
      await events.createIndex({ at: 1 }, { expireAfterSeconds: 3_600 });
      const now = Date.now();
      await events.insertMany([
        { _id: "two-hours-old", at: new Date(now - 2 * 3_600_000) },
        { _id: "ten-minutes-old", at: new Date(now - 10 * 60_000) },
      ]);
      await waitUntil(async () => (await events.countDocuments({ _id: "two-hours-old" })) === 0, {
        timeoutMs: TTL_DEADLINE_MS,
        what: "the two-hour-old event to expire",
      });
      expect(await events.countDocuments({ _id: "ten-minutes-old" })).toBe(1);
    },
    TTL_DEADLINE_MS + 10_000,
  );
});
