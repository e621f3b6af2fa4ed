import { ObjectId } from "mongodb";
import { describe, expect, it } from "vitest";
import { parseId } from "../../src/ids.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

const testApp = useTestApp({ env: { JOBS_POLL_MS: "20" } });

const THUMBS = /* GraphQL */ `
  mutation Thumbs($input: BinaryFeedbackInput!) {
    submitBinaryFeedback(input: $input) {
      __typename
      ... on SubmitFeedbackPayload { feedback { id status } }
    }
  }
`;

async function thumbs(interactionId: string, positive: boolean, userId: string) {
  const result = await testApp.gql(THUMBS, { input: { interactionId, positive, userId } });
  const payload = result.data?.submitBinaryFeedback;
  expect(payload?.__typename, JSON.stringify(result)).toBe("SubmitFeedbackPayload");
  return parseId(payload.feedback.id, ["BinaryFeedback"], "id");
}

describe("the post-write outbox", () => {
  it("clears the marker once the in-process steps ran, so nothing is left for the sweeper", async () => {
    const { id } = await recordInteraction(testApp, { userId: "outbox-inline" });
    const feedbackId = await thumbs(id, true, "rater-inline");
    // The marker is cleared right after the answer, batched with other writes' markers.
    await waitUntil(
      async () =>
        (await testApp.store.collections.feedback.findOne({ _id: feedbackId }))?.pendingSince ===
        undefined,
      { timeoutMs: 10_000, intervalMs: 10, what: "the marker to be cleared" },
    );
    const stored = await testApp.store.collections.feedback.findOne({ _id: feedbackId });
    expect(stored).not.toBeNull();
    const interaction = await testApp.store.collections.interactions.findOne({
      _id: parseId(id, ["Interaction"], "id"),
    });
    expect(interaction?.feedbackApplied ?? []).toEqual([]);
    expect(await testApp.services.outbox.sweep(new Date(Date.now() + 60_000))).toBe(0);
  });

  it("finishes a feedback a crash left between its insert and its post-write steps", async () => {
    const { collections } = testApp.store;
    const { id } = await recordInteraction(testApp, { userId: "outbox-crash" });
    const interactionId = parseId(id, ["Interaction"], "id");
    const earlierId = await thumbs(id, true, "rater-crash");

    // What the write path had committed when the process died: the rater's newer opinion,
    // inserted with its marker, and none of its post-write steps.
    const earlier = (await collections.feedback.findOne({ _id: earlierId }))!;
    const later = {
      ...earlier,
      _id: new ObjectId(),
      binary: { positive: false },
      sentiment: "negative" as const,
      createdAt: new Date(earlier.createdAt.getTime() + 1_000),
      receivedAt: new Date(earlier.receivedAt.getTime() + 1_000),
      pendingSince: new Date(earlier.receivedAt.getTime() + 1_000),
      payloadHash: "crash-left-this",
    };
    await collections.feedback.insertOne(later);
    const stale = await collections.interactions.findOne({ _id: interactionId });
    expect(stale?.feedbackSummary).toMatchObject({ count: 1, positive: 1, negative: 0 });

    // A restarted worker sweeps everything marked before it started and runs the steps as a job.
    expect(await testApp.services.outbox.sweep(new Date(Date.now() + 1_000))).toBe(1);
    // Sweeping again (another process, the next tick) makes no second job.
    await testApp.services.outbox.sweep(new Date(Date.now() + 1_000));
    const jobs = await collections.jobs.find({ key: `feedback.postWrite:${later._id}` }).toArray();
    expect(jobs).toHaveLength(1);

    testApp.worker!.start();
    await waitUntil(async () => (await testApp.services.outbox.pending()) === 0, {
      timeoutMs: 10_000,
      intervalMs: 25,
      what: "the outbox to drain",
    });

    // Converged: the older opinion went to history, the digest counts only the newer one.
    expect(await collections.feedback.findOne({ _id: earlierId })).toMatchObject({
      status: "superseded",
      supersededBy: later._id,
    });
    const healed = await collections.interactions.findOne({ _id: interactionId });
    expect(healed?.feedbackSummary).toMatchObject({ count: 1, positive: 0, negative: 1 });
    expect((await collections.jobs.findOne({ _id: jobs[0]!._id }))?.state).toBe("succeeded");
  });
});
