import { describe, expect, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import {
  conflictsStep,
  digestStep,
  newPostWriteResults,
  postWriteSteps,
  runPostWriteSteps,
} from "../../src/feedback/post-write.js";
import { emptySummary } from "../../src/feedback/summary.js";
import { parseId } from "../../src/ids.js";
import { recordInteraction, useTestApp } from "../support/app.js";

const testApp = useTestApp();

const THUMBS = /* GraphQL */ `
  mutation Thumbs($input: BinaryFeedbackInput!) {
    submitBinaryFeedback(input: $input) {
      __typename
      ... on SubmitFeedbackPayload { feedback { id } conflict { id status } }
    }
  }
`;

const postWriteContext = () => testApp.services.postWrite;

/** Two raters judging one answer both ways: a digest and an open conflict to converge on. */
async function disputedInteraction() {
  const { id } = await recordInteraction(testApp);
  const thumbs = async (positive: boolean, userId: string) =>
    (await testApp.gql(THUMBS, { input: { interactionId: id, positive, userId } })).data
      ?.submitBinaryFeedback;
  await thumbs(true, "rater-a");
  const second = await thumbs(false, "rater-b");
  expect(second.conflict?.status).toBe("OPEN");
  const interactionId = parseId(id, ["Interaction"], "id");
  const written = await testApp.store.collections.feedback.findOne({
    _id: parseId(second.feedback.id, ["BinaryFeedback"], "id"),
  });
  if (!written) throw new Error("the feedback was not stored");
  const state = async () => {
    const interaction = await testApp.store.collections.interactions.findOne({
      _id: interactionId,
    });
    const conflict = await testApp.store.collections.conflicts.findOne({ interactionId });
    const { revision: _revision, ...summary } = interaction?.feedbackSummary ?? emptySummary;
    return {
      summary,
      conflict: conflict && {
        status: conflict.status,
        feedbackIds: conflict.feedbackIds.map((member) => member.toHexString()).sort(),
      },
      active: await testApp.store.collections.feedback.countDocuments({
        interactionIds: interactionId,
        status: "active",
      }),
    };
  };
  return { interactionId, written, state };
}

describe("post-write steps (the seam a durable queue runs)", () => {
  it("are a named list: supersede, digest, conflicts", () => {
    expect(postWriteSteps.map((step) => step.name)).toEqual(["supersede", "digest", "conflicts"]);
  });

  it("change nothing when run again over stored feedback, together or one by one", async () => {
    const { written, state } = await disputedInteraction();
    const before = await state();
    expect(before.summary).toMatchObject({ count: 2, positive: 1, negative: 1 });
    const ctx = postWriteContext();
    const results = await runPostWriteSteps(ctx, written);
    expect(results.supersededIds).toEqual([]);
    expect(results.conflict?.status).toBe("open");
    for (const step of postWriteSteps) await step.run(ctx, written, newPostWriteResults());
    expect(await state()).toEqual(before);
  });

  it("heal derived state a crash left stale, each step from the written document alone", async () => {
    const { interactionId, written, state } = await disputedInteraction();
    const expected = await state();
    // As if the process died after the insert: digest and conflict never written.
    await testApp.store.collections.interactions.updateOne(
      { _id: interactionId },
      { $set: { feedbackSummary: emptySummary } },
    );
    await testApp.store.collections.conflicts.deleteOne({ interactionId });
    const ctx = postWriteContext();
    await conflictsStep.run(ctx, written, newPostWriteResults());
    await digestStep.run(ctx, written, newPostWriteResults());
    expect(await state()).toEqual(expected);
  });
});

describe("actors", () => {
  it("audit fields name a system actor the way they name an API key", async () => {
    const { interactionId } = await disputedInteraction();
    const conflict = await testApp.store.collections.conflicts.findOne({ interactionId });
    if (!conflict) throw new Error("no conflict");
    const resolved = await testApp.services.conflicts.resolve(
      conflict._id,
      { decision: "exclude" },
      systemActor("llm-judge"),
    );
    expect(resolved.resolution?.resolvedBy).toBe("llm-judge");

    const created = await testApp.gql(
      `mutation { createApiKey(name: "audited", scopes: [READ]) { ... on CreatedApiKey { apiKey { id createdBy } } } }`,
    );
    const apiKey = created.data?.createApiKey.apiKey;
    const admin = await testApp.store.collections.apiKeys.findOne({
      name: "test ingest+read+admin",
    });
    expect(apiKey.createdBy).toBe(`test ingest+read+admin (${admin?._id.toHexString()})`);
  });
});

describe("one feedback filter, compiled once", () => {
  it("feedbackStats runs each free-text lookup once per call", async () => {
    await recordInteraction(testApp, { query: "Where is my parcel?", response: "On its way." });
    const start = testApp.commands.length;
    const result = await testApp.gql(
      `{ feedbackStats(filter: { search: "parcel" }, groupBy: MODEL_VERSION) { overall { feedbackCount } } }`,
    );
    expect(result.errors).toBeUndefined();
    const textLookups = testApp.commands
      .slice(start)
      .filter((event) => JSON.stringify(event.command).includes('"$text"'))
      .map((event) => `${event.commandName} ${String(event.command[event.commandName])}`);
    expect(textLookups.sort()).toEqual(["find feedback", "find interactions"]);
  });
});
