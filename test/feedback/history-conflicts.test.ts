import { describe, expect, it } from "vitest";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

const testApp = useTestApp();

const THUMBS = /* GraphQL */ `
  mutation Thumbs($input: BinaryFeedbackInput!) {
    submitBinaryFeedback(input: $input) {
      __typename
      ... on SubmitFeedbackPayload {
        feedback { id status }
        superseded { id status }
        conflict { id status reasons raterCount positive negative }
      }
    }
  }
`;
const RATE = /* GraphQL */ `
  mutation Rate($input: RatingFeedbackInput!) {
    submitRating(input: $input) {
      __typename
      ... on SubmitFeedbackPayload { feedback { id status } conflict { id reasons } }
    }
  }
`;
const HISTORY = /* GraphQL */ `
  query History($id: ID!) {
    interaction(id: $id) {
      feedbackSummary { count positive negative }
      feedback { id sentiment }
      conflict { id status reasons resolution { decision note resolvedBy } }
    }
  }
`;

describe("a user changing their mind", () => {
  it("supersedes their earlier feedback on the same key, keeps history, and only the latest counts", async () => {
    const { id } = await recordInteraction(testApp, { userId: "mind-changer" });
    const first = (await testApp.gql(THUMBS, { input: { interactionId: id, positive: true } })).data
      ?.submitBinaryFeedback;
    const second = (await testApp.gql(THUMBS, { input: { interactionId: id, positive: false } }))
      .data?.submitBinaryFeedback;
    expect(second.superseded).toEqual([{ id: first.feedback.id, status: "SUPERSEDED" }]);
    expect(second.conflict).toBeNull();

    const state = (await testApp.gql(HISTORY, { id })).data?.interaction;
    expect(state.feedbackSummary).toEqual({ count: 1, positive: 0, negative: 1 });
    expect(state.feedback).toEqual([{ id: second.feedback.id, sentiment: "NEGATIVE" }]);

    const history = await testApp.gql(
      `query($id: ID!) { feedbackEntry(id: $id) { status history { id status supersededBy { id } } } }`,
      { id: second.feedback.id },
    );
    expect(history.data?.feedbackEntry).toEqual({
      status: "ACTIVE",
      history: [
        { id: first.feedback.id, status: "SUPERSEDED", supersededBy: { id: second.feedback.id } },
      ],
    });

    const listed = await testApp.gql(
      `query($id: ID!) { active: feedback(filter: { interactionId: $id }) { totalCount } all: feedback(filter: { interactionId: $id, includeSuperseded: true }) { totalCount } }`,
      { id },
    );
    expect(listed.data).toEqual({ active: { totalCount: 1 }, all: { totalCount: 2 } });
  });

  it("does not let a delayed, older opinion replace a newer one", async () => {
    const { id } = await recordInteraction(testApp, { userId: "late-sender" });
    const newer = (
      await testApp.gql(THUMBS, {
        input: { interactionId: id, positive: false, createdAt: "2026-11-20T12:00:00Z" },
      })
    ).data?.submitBinaryFeedback;
    const older = (
      await testApp.gql(THUMBS, {
        input: { interactionId: id, positive: true, createdAt: "2026-11-20T11:00:00Z" },
      })
    ).data?.submitBinaryFeedback;
    expect(older.feedback.status).toBe("SUPERSEDED");
    expect(older.superseded).toEqual([]);
    const state = (await testApp.gql(HISTORY, { id })).data?.interaction;
    expect(state.feedback).toEqual([{ id: newer.feedback.id, sentiment: "NEGATIVE" }]);
  });

  it("keeps different keys and accumulating kinds side by side", async () => {
    const { id } = await recordInteraction(testApp, { userId: "many-keys" });
    await testApp.gql(RATE, { input: { interactionId: id, score: 4 } });
    await testApp.gql(RATE, { input: { interactionId: id, score: 5, key: "clarity" } });
    const COMMENT = `mutation($input: CommentFeedbackInput!) { submitComment(input: $input) { __typename } }`;
    await testApp.gql(COMMENT, { input: { interactionId: id, text: "one" } });
    await testApp.gql(COMMENT, { input: { interactionId: id, text: "two" } });
    const state = (await testApp.gql(HISTORY, { id })).data?.interaction;
    expect(state.feedbackSummary.count).toBe(4);
  });
});

describe("disagreeing feedback", () => {
  it("records a conflict when different raters judge the same answer both ways, and lists it", async () => {
    const { id } = await recordInteraction(testApp);
    await testApp.gql(THUMBS, { input: { interactionId: id, positive: true, userId: "alice" } });
    const disagreeing = (
      await testApp.gql(THUMBS, { input: { interactionId: id, positive: false, userId: "bob" } })
    ).data?.submitBinaryFeedback;
    expect(disagreeing.conflict).toMatchObject({
      status: "OPEN",
      reasons: ["SENTIMENT_DISAGREEMENT"],
      raterCount: 2,
      positive: 1,
      negative: 1,
    });
    const open = await testApp.gql(
      `{ conflicts(status: OPEN) { totalCount edges { node { id interaction { id } feedback { sentiment } } } } }`,
    );
    const node = open.data?.conflicts.edges.find(
      (edge: { node: { interaction: { id: string } } }) => edge.node.interaction.id === id,
    )?.node;
    expect(node.feedback.map((item: { sentiment: string }) => item.sentiment).sort()).toEqual([
      "NEGATIVE",
      "POSITIVE",
    ]);
  });

  it("records a conflict when ratings on one key are far apart", async () => {
    const { id } = await recordInteraction(testApp);
    await testApp.gql(RATE, { input: { interactionId: id, score: 3, userId: "carol" } });
    const result = (
      await testApp.gql(RATE, { input: { interactionId: id, score: 5, userId: "dave" } })
    ).data?.submitRating;
    expect(result.conflict).toBeNull();
    const spread = (
      await testApp.gql(RATE, { input: { interactionId: id, score: 1, userId: "erin" } })
    ).data?.submitRating;
    expect(spread.conflict.reasons).toEqual(expect.arrayContaining(["RATING_SPREAD"]));
  });

  it("is resolved by an admin, withdrawn when a rater changes their mind, and reopened by new disagreement", async () => {
    const { id } = await recordInteraction(testApp);
    await testApp.gql(THUMBS, { input: { interactionId: id, positive: true, userId: "fay" } });
    const conflictId = (
      await testApp.gql(THUMBS, { input: { interactionId: id, positive: false, userId: "gus" } })
    ).data?.submitBinaryFeedback.conflict.id;

    const RESOLVE = `mutation($id: ID!) { resolveConflict(id: $id, decision: EXCLUDE, note: "ambiguous question") { __typename ... on Conflict { status resolution { decision note resolvedBy } } } }`;
    const reader = await testApp.key(["read"]);
    expect(
      (await testApp.gql(RESOLVE, { id: conflictId }, reader)).data?.resolveConflict.__typename,
    ).toBe("ForbiddenError");
    const resolved = (await testApp.gql(RESOLVE, { id: conflictId })).data?.resolveConflict;
    expect(resolved).toMatchObject({
      status: "RESOLVED",
      resolution: { decision: "EXCLUDE", note: "ambiguous question" },
    });
    expect(resolved.resolution.resolvedBy).toContain("test ingest+read+admin");

    // A third rater disagrees again: the conflict reopens and keeps the last resolution visible.
    const reopened = (
      await testApp.gql(THUMBS, { input: { interactionId: id, positive: false, userId: "hal" } })
    ).data?.submitBinaryFeedback.conflict;
    expect(reopened).toMatchObject({ id: conflictId, status: "OPEN" });

    // Everyone who said positive changes their mind: nobody disagrees any more.
    await testApp.gql(THUMBS, { input: { interactionId: id, positive: false, userId: "fay" } });
    // Withdrawing a conflict is checked right after the answer (a client asking for `conflict`
    // in the mutation waits for it; this one did not ask).
    let state: { conflict?: { status?: string } } = {};
    await waitUntil(
      async () => {
        state = (await testApp.gql(HISTORY, { id })).data?.interaction;
        return state.conflict?.status === "RESOLVED";
      },
      { timeoutMs: 10_000, intervalMs: 20, what: "the conflict to be withdrawn" },
    );
    expect(state.conflict).toMatchObject({
      status: "RESOLVED",
      resolution: { decision: "DISMISS", resolvedBy: "loopgate" },
    });

    const missing = await testApp.gql(
      `mutation { resolveConflict(id: "0123456789abcdef01234567", decision: DISMISS) { __typename } }`,
    );
    expect(missing.data?.resolveConflict.__typename).toBe("NotFoundError");
  });

  it("does not count one rater's own mixed signals as a conflict", async () => {
    const { id } = await recordInteraction(testApp, { userId: "solo" });
    await testApp.gql(THUMBS, { input: { interactionId: id, positive: true } });
    const FLAG = `mutation($input: FlagFeedbackInput!) { submitFlag(input: $input) { ... on SubmitFeedbackPayload { conflict { id } } } }`;
    const flagged = await testApp.gql(FLAG, { input: { interactionId: id, category: "OTHER" } });
    expect(flagged.data?.submitFlag.conflict).toBeNull();
  });
});

describe("rules that keep training data whole", () => {
  const COMPARE = /* GraphQL */ `
    mutation($input: ComparisonFeedbackInput!) {
      submitComparison(input: $input) { __typename ... on SubmitFeedbackPayload { feedback { id status } superseded { id } } }
    }
  `;

  it("keeps a rater's comparisons of different pairs, and supersedes only a re-judged pair", async () => {
    const x = await recordInteraction(testApp, { query: "Compare me" });
    const y = await recordInteraction(testApp, { query: "Compare me" });
    const z = await recordInteraction(testApp, { query: "Compare me" });
    const expert = { source: "EXPERT", annotatorId: "pairs-expert" };
    const xy = (
      await testApp.gql(COMPARE, {
        input: {
          ...expert,
          a: { interactionId: x.id },
          b: { interactionId: y.id },
          preferred: "A",
        },
      })
    ).data?.submitComparison;
    const xz = (
      await testApp.gql(COMPARE, {
        input: {
          ...expert,
          a: { interactionId: x.id },
          b: { interactionId: z.id },
          preferred: "B",
        },
      })
    ).data?.submitComparison;
    expect(xz.superseded).toEqual([]);
    // The same pair in the other order is the same judgement, revised.
    const yx = (
      await testApp.gql(COMPARE, {
        input: {
          ...expert,
          a: { interactionId: y.id },
          b: { interactionId: x.id },
          preferred: "TIE",
        },
      })
    ).data?.submitComparison;
    expect(yx.superseded).toEqual([{ id: xy.feedback.id }]);
    const active = await testApp.gql(
      `query($id: ID!) { feedback(filter: { interactionId: $id, kinds: [COMPARISON] }) { totalCount } }`,
      { id: x.id },
    );
    expect(active.data?.feedback.totalCount).toBe(2);
  });

  it("treats a token holder without a user id as one rater who can change their mind", async () => {
    const { id, token } = await recordInteraction(testApp, { userId: undefined });
    const TOKEN_THUMBS = `mutation($input: BinaryFeedbackInput!) {
      submitBinaryFeedback(input: $input) { ... on SubmitFeedbackPayload { superseded { id } } }
    }`;
    await testApp.gql(TOKEN_THUMBS, { input: { interactionId: id, positive: true } }, token);
    const second = await testApp.gql(
      TOKEN_THUMBS,
      { input: { interactionId: id, positive: false } },
      token,
    );
    expect(second.data?.submitBinaryFeedback.superseded).toHaveLength(1);
    const state = (await testApp.gql(HISTORY, { id })).data?.interaction;
    expect(state.conflict).toBeNull();
    expect(state.feedbackSummary).toEqual({ count: 1, positive: 0, negative: 1 });
  });

  it("finishes the follow-up steps when a request is retried with the same idempotency key", async () => {
    const { id } = await recordInteraction(testApp, { userId: "retrier" });
    await testApp.gql(THUMBS, { input: { interactionId: id, positive: true } });
    // A crash right after the insert: the thumbs-down is stored but nothing else happened.
    const first = (
      await testApp.gql(THUMBS, {
        input: { interactionId: id, positive: false, idempotencyKey: "retry-0001" },
      })
    ).data?.submitBinaryFeedback;
    await testApp.store.collections.feedback.updateMany(
      { supersededBy: { $exists: true } },
      { $set: { status: "active" }, $unset: { supersededBy: "", supersededAt: "" } },
    );
    await testApp.store.collections.interactions.updateMany(
      {},
      { $set: { "feedbackSummary.count": 99 } },
    );
    const retried = (
      await testApp.gql(THUMBS, {
        input: { interactionId: id, positive: false, idempotencyKey: "retry-0001" },
      })
    ).data?.submitBinaryFeedback;
    expect(retried.feedback.id).toBe(first.feedback.id);
    const state = (await testApp.gql(HISTORY, { id })).data?.interaction;
    expect(state.feedbackSummary).toEqual({ count: 1, positive: 0, negative: 1 });
  });

  it("refuses feedback on an erased interaction, even with a token issued before", async () => {
    const { id, token } = await recordInteraction(testApp, { userId: "to-be-erased" });
    await testApp.gql(
      `mutation { eraseUser(userId: "to-be-erased", mode: ANONYMIZE) { __typename } }`,
    );
    const after = await testApp.gql(
      `mutation($input: BinaryFeedbackInput!) { submitBinaryFeedback(input: $input) { __typename } }`,
      { input: { interactionId: id, positive: true } },
      token,
    );
    expect(after.data?.submitBinaryFeedback.__typename).toBe("NotFoundError");
  });
});
