import { describe, expect, it } from "vitest";
import { recordInteraction, useTestApp } from "../support/app.js";

const testApp = useTestApp();
const strictApp = useTestApp({ env: { FEEDBACK_KEYS_ENFORCED: "true" } });

const DEFINE = /* GraphQL */ `
  mutation Define($input: FeedbackKeyInput!) {
    defineFeedbackKey(input: $input) {
      __typename
      ... on FeedbackKeyConfig { key kind description rating { min max integer } categories isLowerScoreBetter createdAt updatedAt }
      ... on ValidationError { fields { path message } }
      ... on Error { message }
    }
  }
`;

const RATE = /* GraphQL */ `
  mutation Rate($input: RatingFeedbackInput!) {
    submitRating(input: $input) {
      __typename
      ... on SubmitFeedbackPayload { feedback { key sentiment ... on RatingFeedback { score scaleMin scaleMax normalizedScore } } }
      ... on ValidationError { fields { path message } }
    }
  }
`;

const THUMBS = /* GraphQL */ `
  mutation Thumbs($input: BinaryFeedbackInput!) {
    submitBinaryFeedback(input: $input) {
      __typename
      ... on SubmitFeedbackPayload { feedback { key category } }
      ... on ValidationError { fields { path message } }
    }
  }
`;

describe("declared feedback keys", () => {
  it("validates ratings against the key's scale and direction", async () => {
    const defined = await testApp.gql(DEFINE, {
      input: {
        key: "toxicity",
        kind: "RATING",
        description: "How toxic the answer is (0 = not at all)",
        rating: { min: 0, max: 10, integer: false },
        isLowerScoreBetter: true,
      },
    });
    expect(defined.data?.defineFeedbackKey).toMatchObject({
      __typename: "FeedbackKeyConfig",
      key: "toxicity",
      kind: "RATING",
      rating: { min: 0, max: 10, integer: false },
      isLowerScoreBetter: true,
    });
    const { id } = await recordInteraction(testApp);
    const low = await testApp.gql(RATE, {
      input: { interactionId: id, key: "toxicity", score: 0.5, userId: "a" },
    });
    expect(low.data?.submitRating.feedback).toMatchObject({
      score: 0.5,
      scaleMin: 0,
      scaleMax: 10,
      normalizedScore: 0.95,
      sentiment: "POSITIVE",
    });
    const high = await testApp.gql(RATE, {
      input: { interactionId: id, key: "toxicity", score: 9, userId: "b" },
    });
    expect(high.data?.submitRating.feedback.sentiment).toBe("NEGATIVE");
    const outside = await testApp.gql(RATE, {
      input: { interactionId: id, key: "toxicity", score: 11 },
    });
    expect(outside.data?.submitRating.__typename).toBe("ValidationError");
    expect(outside.data?.submitRating.fields[0].message).toContain("between 0 and 10");
  });

  it("refuses feedback of another kind on a declared key", async () => {
    await testApp.gql(DEFINE, { input: { key: "helpfulness", kind: "RATING" } });
    const { id } = await recordInteraction(testApp);
    const wrongKind = await testApp.gql(THUMBS, {
      input: { interactionId: id, key: "helpfulness", positive: true },
    });
    expect(wrongKind.data?.submitBinaryFeedback.__typename).toBe("ValidationError");
    expect(wrongKind.data?.submitBinaryFeedback.fields[0]).toMatchObject({ path: "input.key" });
  });

  it("restricts failure categories when the key lists them", async () => {
    await testApp.gql(DEFINE, {
      input: { key: "factuality", kind: "BINARY", categories: ["ACCURACY", "KNOWLEDGE_GAP"] },
    });
    const { id } = await recordInteraction(testApp);
    const allowed = await testApp.gql(THUMBS, {
      input: { interactionId: id, key: "factuality", positive: false, category: "KNOWLEDGE_GAP" },
    });
    expect(allowed.data?.submitBinaryFeedback.feedback).toEqual({
      key: "factuality",
      category: "KNOWLEDGE_GAP",
    });
    const refused = await testApp.gql(THUMBS, {
      input: {
        interactionId: id,
        key: "factuality",
        positive: false,
        category: "FORMAT",
        userId: "x",
      },
    });
    expect(refused.data?.submitBinaryFeedback.fields[0]).toMatchObject({ path: "input.category" });
  });

  it("rejects invalid configs and lists, redefines and deletes keys", async () => {
    const bad = await testApp.gql(DEFINE, {
      input: { key: "9lives", kind: "RATING", rating: { min: 5, max: 1 } },
    });
    expect(bad.data?.defineFeedbackKey.__typename).toBe("ValidationError");
    expect(
      bad.data?.defineFeedbackKey.fields.map((field: { path: string }) => field.path).sort(),
    ).toEqual(["input.key", "input.rating.max"].sort());
    const wrongScale = await testApp.gql(DEFINE, {
      input: { key: "thumbsish", kind: "BINARY", rating: { min: 0, max: 1 } },
    });
    expect(wrongScale.data?.defineFeedbackKey.fields[0].path).toBe("input.rating");

    await testApp.gql(DEFINE, { input: { key: "clarity", kind: "RATING", description: "v1" } });
    const redefined = await testApp.gql(DEFINE, {
      input: { key: "clarity", kind: "RATING", description: "v2" },
    });
    expect(redefined.data?.defineFeedbackKey.description).toBe("v2");
    const listed = await testApp.gql("{ feedbackKeys { key description } }");
    expect(listed.data?.feedbackKeys).toContainEqual({ key: "clarity", description: "v2" });

    const removed = await testApp.gql(
      `mutation { deleteFeedbackKey(key: "clarity") { __typename ... on FeedbackKeyConfig { key } } }`,
    );
    expect(removed.data?.deleteFeedbackKey).toEqual({
      __typename: "FeedbackKeyConfig",
      key: "clarity",
    });
    const again = await testApp.gql(
      `mutation { deleteFeedbackKey(key: "clarity") { __typename ... on NotFoundError { resource id } } }`,
    );
    expect(again.data?.deleteFeedbackKey).toEqual({
      __typename: "NotFoundError",
      resource: "FeedbackKey",
      id: "clarity",
    });
  });

  it("needs the admin scope to declare keys", async () => {
    const ingestKey = await testApp.key(["ingest", "read"]);
    const result = await testApp.gql(
      DEFINE,
      { input: { key: "sneaky", kind: "BINARY" } },
      ingestKey,
    );
    expect(result.data?.defineFeedbackKey.__typename).toBe("ForbiddenError");
    expect(await testApp.store.collections.feedbackKeys.countDocuments({ _id: "sneaky" })).toBe(0);
  });

  it("rejects undeclared keys when FEEDBACK_KEYS_ENFORCED is on, but not the kind's default key", async () => {
    const { id } = await recordInteraction(strictApp);
    const undeclared = await strictApp.gql(THUMBS, {
      input: { interactionId: id, key: "vibes", positive: true },
    });
    expect(undeclared.data?.submitBinaryFeedback.fields[0].message).toContain("not declared");
    const byDefault = await strictApp.gql(THUMBS, { input: { interactionId: id, positive: true } });
    expect(byDefault.data?.submitBinaryFeedback.feedback.key).toBe("thumbs");
  });
});
