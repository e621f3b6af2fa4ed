import { describe, expect, it } from "vitest";
import { recordInteraction, useTestApp } from "../support/app.js";

const testApp = useTestApp();

const FIELDS = /* GraphQL */ `
  fragment FeedbackFields on Feedback {
    __typename id kind key source annotatorId userId sessionId sentiment status comment category metadata
    createdAt idempotencyKey
    model { id version }
    interaction { id }
    ... on BinaryFeedback { positive }
    ... on RatingFeedback { score scaleMin scaleMax normalizedScore }
    ... on CorrectionFeedback { originalResponse correctedResponse }
    ... on ComparisonFeedback {
      prompt preferred strength reason
      a { text interaction { id } model { version } }
      b { text interaction { id } model { version } }
    }
    ... on CommentFeedback { text }
    ... on ImplicitFeedback { signal value }
    ... on FlagFeedback { flagCategory severity reason }
  }
`;

function submit(mutation: string, inputType: string) {
  return /* GraphQL */ `
    ${FIELDS}
    mutation Submit($input: ${inputType}!) {
      result: ${mutation}(input: $input) {
        __typename
        ... on SubmitFeedbackPayload { duplicate feedback { ...FeedbackFields } }
        ... on Error { message code }
        ... on ValidationError { fields { path message } }
        ... on NotFoundError { resource id }
      }
    }
  `;
}

const mutations = {
  binary: submit("submitBinaryFeedback", "BinaryFeedbackInput"),
  rating: submit("submitRating", "RatingFeedbackInput"),
  correction: submit("submitCorrection", "CorrectionFeedbackInput"),
  comparison: submit("submitComparison", "ComparisonFeedbackInput"),
  comment: submit("submitComment", "CommentFeedbackInput"),
  implicit: submit("submitImplicitSignal", "ImplicitFeedbackInput"),
  flag: submit("submitFlag", "FlagFeedbackInput"),
};

async function send(kind: keyof typeof mutations, input: Record<string, unknown>) {
  const response = await testApp.gql(mutations[kind], { input });
  if (response.errors) throw new Error(JSON.stringify(response.errors));
  return response.data?.result;
}

describe("the seven feedback kinds", () => {
  it("stores thumbs up/down with sentiment, timestamps, session and model", async () => {
    const { id } = await recordInteraction(testApp, { sessionId: "s-binary" });
    const up = await send("binary", { interactionId: id, positive: true, comment: "Spot on" });
    expect(up.__typename).toBe("SubmitFeedbackPayload");
    expect(up.feedback).toMatchObject({
      __typename: "BinaryFeedback",
      kind: "BINARY",
      key: "thumbs",
      source: "USER",
      positive: true,
      sentiment: "POSITIVE",
      status: "ACTIVE",
      comment: "Spot on",
      sessionId: "s-binary",
      model: { id: "support-bot", version: "v1" },
      interaction: { id },
    });
    expect(up.feedback.userId).toMatch(/^u_/);
    expect(Date.parse(up.feedback.createdAt)).not.toBeNaN();
    const down = await send("binary", {
      interactionId: id,
      positive: false,
      userId: "someone-else",
    });
    expect(down.feedback.sentiment).toBe("NEGATIVE");
  });

  it("stores ratings on the 1–5 default scale and rejects others", async () => {
    const { id } = await recordInteraction(testApp);
    const cases: Array<[number, string]> = [
      [5, "POSITIVE"],
      [4, "POSITIVE"],
      [3, "NEUTRAL"],
      [2, "NEGATIVE"],
      [1, "NEGATIVE"],
    ];
    for (const [score, sentiment] of cases) {
      const result = await send("rating", { interactionId: id, score, userId: `rater-${score}` });
      expect(result.feedback).toMatchObject({ score, scaleMin: 1, scaleMax: 5, sentiment });
    }
    const before = await testApp.store.collections.feedback.countDocuments();
    for (const score of [0, 6, 3.5]) {
      const result = await send("rating", { interactionId: id, score });
      expect(result.__typename).toBe("ValidationError");
      expect(result.fields[0].path).toBe("input.score");
    }
    expect(await testApp.store.collections.feedback.countDocuments()).toBe(before);
  });

  it("stores a correction with the original response kept alongside", async () => {
    const { id } = await recordInteraction(testApp, { response: "Paris is in Italy." });
    const result = await send("correction", {
      interactionId: id,
      correctedResponse: "Paris is in France.",
    });
    expect(result.feedback).toMatchObject({
      kind: "CORRECTION",
      key: "correction",
      originalResponse: "Paris is in Italy.",
      correctedResponse: "Paris is in France.",
      sentiment: "NEGATIVE",
    });
    const empty = await send("correction", { interactionId: id, correctedResponse: "   " });
    expect(empty.__typename).toBe("ValidationError");
  });

  it("stores comparisons of two recorded interactions or of inline texts", async () => {
    const a = await recordInteraction(testApp, {
      query: "Explain DPO",
      response: "Answer A",
      model: { id: "m", version: "v1" },
    });
    const b = await recordInteraction(testApp, {
      query: "Explain DPO",
      response: "Answer B",
      model: { id: "m", version: "v2" },
    });
    const recorded = await send("comparison", {
      a: { interactionId: a.id },
      b: { interactionId: b.id },
      preferred: "B",
      strength: 0.8,
      reason: "B is clearer",
      source: "EXPERT",
      annotatorId: "expert-7",
    });
    expect(recorded.feedback).toMatchObject({
      kind: "COMPARISON",
      key: "preference",
      prompt: "Explain DPO",
      preferred: "B",
      strength: 0.8,
      reason: "B is clearer",
      source: "EXPERT",
      annotatorId: "expert-7",
      sentiment: "NEUTRAL",
      a: { text: "Answer A", interaction: { id: a.id }, model: { version: "v1" } },
      b: { text: "Answer B", interaction: { id: b.id }, model: { version: "v2" } },
    });
    // Both interactions list the comparison among their feedback.
    const sides = await testApp.gql(
      `query($a: ID!, $b: ID!) { a: interaction(id: $a) { feedback { kind } } b: interaction(id: $b) { feedback { kind } } }`,
      { a: a.id, b: b.id },
    );
    expect(sides.data?.a.feedback).toEqual([{ kind: "COMPARISON" }]);
    expect(sides.data?.b.feedback).toEqual([{ kind: "COMPARISON" }]);

    const inline = await send("comparison", {
      prompt: "Say hi",
      a: { text: "Hi" },
      b: { text: "Hello there" },
      preferred: "TIE",
      source: "LLM_JUDGE",
      annotatorId: "judge-large",
    });
    expect(inline.feedback).toMatchObject({
      prompt: "Say hi",
      preferred: "TIE",
      interaction: null,
      a: { text: "Hi", interaction: null },
    });

    const noPrompt = await send("comparison", {
      a: { text: "x" },
      b: { text: "y" },
      preferred: "A",
    });
    expect(noPrompt.__typename).toBe("ValidationError");
    expect(noPrompt.fields.map((field: { path: string }) => field.path)).toContain("input.prompt");
    const bothForms = await send("comparison", {
      prompt: "p",
      a: { text: "x", interactionId: a.id },
      b: { text: "y" },
      preferred: "A",
    });
    expect(bothForms.__typename).toBe("ValidationError");
  });

  it("stores comments, with an optional sentiment", async () => {
    const { id } = await recordInteraction(testApp);
    const plain = await send("comment", { interactionId: id, text: "Could mention 2FA." });
    expect(plain.feedback).toMatchObject({
      kind: "COMMENT",
      text: "Could mention 2FA.",
      comment: "Could mention 2FA.",
      sentiment: "NEUTRAL",
    });
    const negative = await send("comment", {
      interactionId: id,
      text: "Wrong menu.",
      sentiment: "NEGATIVE",
      category: "ACCURACY",
    });
    expect(negative.feedback).toMatchObject({ sentiment: "NEGATIVE", category: "ACCURACY" });
  });

  it("stores implicit signals and requires a value where one is meaningful", async () => {
    const { id } = await recordInteraction(testApp);
    const expectations: Array<[string, number | undefined, string]> = [
      ["COPY", undefined, "POSITIVE"],
      ["RETRY", undefined, "NEGATIVE"],
      ["REGENERATE", undefined, "NEGATIVE"],
      ["ABANDON", undefined, "NEGATIVE"],
      ["DWELL", 4200, "NEUTRAL"],
      ["SESSION_LENGTH", 380, "NEUTRAL"],
    ];
    for (const [signal, value, sentiment] of expectations) {
      const result = await send("implicit", {
        interactionId: id,
        signal,
        ...(value === undefined ? {} : { value }),
      });
      expect(result.feedback).toMatchObject({
        kind: "IMPLICIT",
        signal,
        value: value ?? null,
        sentiment,
      });
    }
    const missing = await send("implicit", { interactionId: id, signal: "DWELL" });
    expect(missing.__typename).toBe("ValidationError");
    expect(missing.fields[0].path).toBe("input.value");
  });

  it("stores flags with category and severity", async () => {
    const { id } = await recordInteraction(testApp);
    const safety = await send("flag", {
      interactionId: id,
      category: "SAFETY",
      severity: "CRITICAL",
      reason: "Unsafe advice",
    });
    expect(safety.feedback).toMatchObject({
      kind: "FLAG",
      flagCategory: "SAFETY",
      severity: "CRITICAL",
      reason: "Unsafe advice",
      category: "SAFETY",
      sentiment: "NEGATIVE",
    });
    const other = await send("flag", { interactionId: id, category: "OTHER" });
    expect(other.feedback).toMatchObject({ severity: "MEDIUM", category: null });
  });

  it("records every source with the annotator that produced it", async () => {
    const { id } = await recordInteraction(testApp);
    for (const source of ["USER", "EXPERT", "LLM_JUDGE", "RULE", "CROSS_MODEL"]) {
      const result = await send("binary", {
        interactionId: id,
        positive: true,
        source,
        ...(source === "USER" ? {} : { annotatorId: `${source.toLowerCase()}-1` }),
      });
      expect(result.feedback.source).toBe(source);
    }
  });

  it("answers NotFoundError for an unknown interaction and a ValidationError for a malformed id", async () => {
    const missing = await send("binary", {
      interactionId: "0123456789abcdef01234567",
      positive: true,
    });
    expect(missing).toMatchObject({
      __typename: "NotFoundError",
      resource: "Interaction",
      code: "NOT_FOUND",
    });
    const malformed = await send("binary", { interactionId: "not-an-id", positive: true });
    expect(malformed.__typename).toBe("ValidationError");
    expect(malformed.fields[0].path).toBe("input.interactionId");
  });

  it("stores one feedback per idempotency key and refuses the key with other data", async () => {
    const { id } = await recordInteraction(testApp);
    const input = { interactionId: id, score: 4, idempotencyKey: "fb-7d2e-0001" };
    const first = await send("rating", input);
    const again = await send("rating", input);
    expect(again.duplicate).toBe(true);
    expect(again.feedback.id).toBe(first.feedback.id);
    expect(
      await testApp.store.collections.feedback.countDocuments({ idempotencyKey: "fb-7d2e-0001" }),
    ).toBe(1);
    const different = await send("rating", { ...input, score: 2 });
    expect(different.__typename).toBe("ConflictError");
  });

  it("returns feedback by id with kind-specific fields through feedbackEntry and node", async () => {
    const { id } = await recordInteraction(testApp);
    const stored = await send("rating", { interactionId: id, score: 5 });
    const read = await testApp.gql(
      `${FIELDS} query($id: ID!) { feedbackEntry(id: $id) { ...FeedbackFields } node(id: $id) { id ... on RatingFeedback { score } } }`,
      { id: stored.feedback.id },
    );
    expect(read.data?.feedbackEntry).toMatchObject({ __typename: "RatingFeedback", score: 5 });
    expect(read.data?.node).toEqual({ id: stored.feedback.id, score: 5 });
  });
});
