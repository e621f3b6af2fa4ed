import { ObjectId } from "mongodb";
import { describe, expect, it } from "vitest";
import { actorOf } from "../../src/auth/actor.js";
import { createDomainEvents, MAX_PENDING_EVENTS } from "../../src/events.js";
import { emptySummary } from "../../src/feedback/summary.js";
import type { FeedbackDoc, InteractionDoc } from "../../src/store/documents.js";
import {
  interactionInput,
  RECORD,
  recordInteraction,
  storedCounts,
  useTestApp,
} from "../support/app.js";

const testApp = useTestApp();

describe("limits that keep one request from exhausting the server", () => {
  it("refuses a free-text search matching more than 10,000 items instead of truncating it", async () => {
    const now = new Date();
    const docs: InteractionDoc[] = Array.from({ length: 10_001 }, (_, index) => ({
      _id: new ObjectId(),
      query: `popular word number ${index}`,
      response: "answer",
      model: { id: "limits", version: "v1" },
      createdAt: now,
      recordedAt: now,
      payloadHash: "x",
      feedbackSummary: emptySummary,
      feedbackRevision: 0,
    }));
    await testApp.store.collections.interactions.insertMany(docs);
    const broad = await testApp.gql(`{ feedback(filter: { search: "popular" }) { totalCount } }`);
    expect(broad.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
    expect(broad.errors?.[0]?.message).toContain("filter.search");
    // The same word narrowed to another model is answered.
    const narrowed = await testApp.gql(
      `{ feedback(filter: { search: "popular", modelId: "elsewhere" }) { totalCount } }`,
    );
    expect(narrowed.data?.feedback.totalCount).toBe(0);
    await testApp.store.collections.interactions.deleteMany({ "model.id": "limits" });
  });

  it("caps nodes(ids), filter lists and an interaction's feedback list", async () => {
    const ids = Array.from(
      { length: 201 },
      () => "SW50ZXJhY3Rpb246MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3",
    );
    const nodes = await testApp.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids });
    expect(nodes.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");

    const keys = Array.from({ length: 101 }, (_, index) => `key${index}`);
    const listed = await testApp.gql(
      `query($keys: [String!]) { feedback(filter: { keys: $keys }) { totalCount } }`,
      { keys },
    );
    expect(listed.errors?.[0]?.message).toContain("filter.keys");

    const { id } = await recordInteraction(testApp);
    const principal = actorOf(
      await testApp.services.authenticate(
        new Headers({ authorization: `Bearer ${testApp.adminKey}` }),
      ),
    );
    for (const signal of ["copy", "retry", "dwell"] as const) {
      await testApp.services.feedback.submit(
        {
          kind: "implicit",
          input: {
            interactionId: Buffer.from(id, "base64").toString().split(":")[1] ?? "",
            signal,
            value: 5,
          },
        },
        principal,
      );
    }
    const limited = await testApp.gql(
      `query($id: ID!) { interaction(id: $id) { feedback(limit: 2) { kind } } }`,
      { id },
    );
    expect(limited.data?.interaction.feedback).toHaveLength(2);
    const tooMany = await testApp.gql(
      `query($id: ID!) { interaction(id: $id) { feedback(limit: 501) { kind } } }`,
      { id },
    );
    expect(tooMany.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
  });

  it("rejects operator-like keys anywhere in free JSON and oversized interactions, storing nothing", async () => {
    const before = await storedCounts(testApp);
    const nested = await testApp.gql(RECORD, {
      input: interactionInput({ metadata: { a: { b: [{ $gt: 1 }] } } }),
    });
    expect(nested.data?.recordInteraction.fields).toEqual([
      {
        path: "input.metadata",
        message: "keys (at any depth) must not start with '$' or contain '.'",
      },
    ]);
    const huge = "x".repeat(90_000);
    const messages = Array.from({ length: 50 }, () => ({ role: "user", content: huge }));
    const oversized = await testApp.gql(RECORD, { input: interactionInput({ messages }) });
    expect(oversized.data?.recordInteraction.fields[0].path).toBe("input.messages");
    expect(await storedCounts(testApp)).toEqual(before);
  });

  it("keeps nulls inside free JSON as sent", async () => {
    const { id } = await recordInteraction(testApp, {
      metadata: { note: null, tags: ["a", null] },
    });
    const read = await testApp.gql(`query($id: ID!) { interaction(id: $id) { metadata } }`, { id });
    expect(read.data?.interaction.metadata).toEqual({ note: null, tags: ["a", null] });
  });
});

describe("the live feed's buffer", () => {
  it("closes a subscriber that stops reading instead of buffering without limit", async () => {
    const events = createDomainEvents(() => {});
    const stream = events.stream("feedbackRecorded", new AbortController().signal);
    const iterator = stream[Symbol.asyncIterator]();
    for (let index = 0; index <= MAX_PENDING_EVENTS; index++) {
      events.emit("feedbackRecorded", { key: `k${index}` } as FeedbackDoc);
    }
    expect(events.listenerCount("feedbackRecorded")).toBe(0);
    let delivered = 0;
    await expect(
      (async () => {
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          delivered += 1;
        }
      })(),
    ).rejects.toThrow("fell 1000 events behind");
    expect(delivered).toBe(MAX_PENDING_EVENTS);
  });
});
