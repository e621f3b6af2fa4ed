import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../support/poll.js";
import { usePrivateStore } from "./embedded-helpers.js";

// The TTL monitor reads the injected clock, not the wall clock.
let now = new Date("2020-01-01T00:00:00Z");
const h = usePrivateStore({ now: () => now });
let client: MongoClient;

beforeAll(async () => {
  client = new MongoClient(h.store.uri);
  await client.connect();
});
afterAll(async () => {
  await client?.close();
});

interface Session {
  _id: string;
  expiresAt?: Date | Date[] | string;
}

describe("TTL monitor", () => {
  it("uses ttlMonitorSleepSecs and the injected clock", async () => {
    const admin = client.db("admin");
    expect(
      (await admin.command({ getParameter: 1, ttlMonitorSleepSecs: 1 })).ttlMonitorSleepSecs,
    ).toBe(60);
    expect((await admin.command({ setParameter: 1, ttlMonitorSleepSecs: 1 })).was).toBe(60);

    const sessions = client.db("ttl").collection<Session>("sessions");
    await sessions.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
    await sessions.insertMany([
      { _id: "expired", expiresAt: new Date("2019-12-31T00:00:00Z") },
      // In the past for the wall clock, in the future for the injected one.
      { _id: "later", expiresAt: new Date("2021-01-01T00:00:00Z") },
      // Expires by its earliest date.
      {
        _id: "array",
        expiresAt: [new Date("2030-01-01T00:00:00Z"), new Date("2019-06-01T00:00:00Z")],
      },
      { _id: "no-date", expiresAt: "2019-01-01" },
      { _id: "missing" },
    ]);
    const ids = async () => (await sessions.find().sort({ _id: 1 }).toArray()).map((s) => s._id);
    await waitUntil(async () => !(await ids()).includes("expired"), {
      timeoutMs: 15_000,
      what: "first sweep",
    });
    expect(await ids()).toEqual(["later", "missing", "no-date"]);

    now = new Date("2022-01-01T00:00:00Z");
    await waitUntil(async () => !(await ids()).includes("later"), {
      timeoutMs: 15_000,
      what: "second sweep",
    });
    expect(await ids()).toEqual(["missing", "no-date"]);
  }, 40_000);

  it("collMod changes expireAfterSeconds", async () => {
    const db = client.db("ttl");
    const reply = await db.command({
      collMod: "sessions",
      index: { keyPattern: { expiresAt: 1 }, expireAfterSeconds: 3600 },
    });
    expect(reply).toMatchObject({ expireAfterSeconds_old: 0, expireAfterSeconds_new: 3600, ok: 1 });
    expect((await db.collection("sessions").indexes())[1]).toMatchObject({
      expireAfterSeconds: 3600,
    });
  });
});
