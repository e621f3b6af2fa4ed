import { ObjectId } from "mongodb";
import { describe, expect, it } from "vitest";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

const testApp = useTestApp();

const THUMBS = `mutation($input: BinaryFeedbackInput!) { submitBinaryFeedback(input: $input) { __typename } }`;
const STATE = `query($id: ID!) { interaction(id: $id) { feedbackSummary { count negative } conflict { status } } }`;

describe("an erasure interrupted by a crash", () => {
  it("is completed by running it again, including the refresh of other users' interactions", async () => {
    const { id } = await recordInteraction(testApp, { userId: "someone-else" });
    await testApp.gql(THUMBS, { input: { interactionId: id, positive: true, userId: "fan" } });
    await testApp.gql(THUMBS, { input: { interactionId: id, positive: false, userId: "leaver" } });
    // The digest is part of the answer; the conflict is checked right after it.
    expect((await testApp.gql(STATE, { id })).data?.interaction.feedbackSummary).toEqual({
      count: 2,
      negative: 1,
    });
    await waitUntil(
      async () => (await testApp.gql(STATE, { id })).data?.interaction.conflict?.status === "OPEN",
      { timeoutMs: 10_000, intervalMs: 20, what: "the conflict to be opened" },
    );

    // The state a crash leaves after the deletion step and before the refreshes: the leaver's
    // feedback is gone, the interaction's digest and conflict still count it.
    const pseudonym =
      (await testApp.store.collections.feedback.findOne({ sentiment: "negative" }))?.userId ?? "";
    await testApp.store.collections.feedback.deleteMany({ userId: pseudonym });
    await testApp.store.collections.erasures.insertOne({
      _id: new ObjectId(),
      userId: pseudonym,
      mode: "delete",
      requestedBy: "crashed run",
      createdAt: new Date(),
      status: "running",
      touched: [new ObjectId(Buffer.from(id, "base64").toString("utf8").split(":")[1])],
      interactions: 0,
      feedback: 1,
      conflictsUpdated: 0,
    });

    const rerun = await testApp.gql(
      `mutation { eraseUser(userId: "leaver") { __typename ... on ErasureReport { feedback } } }`,
    );
    expect(rerun.data?.eraseUser).toEqual({ __typename: "ErasureReport", feedback: 0 });
    expect((await testApp.gql(STATE, { id })).data?.interaction).toEqual({
      feedbackSummary: { count: 1, negative: 0 },
      conflict: { status: "RESOLVED" },
    });
    expect(
      await testApp.store.collections.erasures.countDocuments({
        userId: pseudonym,
        status: "running",
      }),
    ).toBe(0);
  });
});
