import { describe, expect, it } from "vitest";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

/**
 * JUDGES_CONFIG `categorize: true` wires the first configured judge into the processing
 * pipeline's categorization (after its rules), through the composition root as production runs it.
 */
const t = useTestApp({
  env: {
    PIPELINE_MIN_READ_MS: "0",
    PIPELINE_READ_CHARS_PER_SECOND: "0",
    JUDGES_CONFIG: JSON.stringify({
      enabled: false,
      categorize: true,
      judges: [{ type: "rules", name: "house-rules", relevance: true }],
    }),
  },
});

const COMMENT = `mutation($input: CommentFeedbackInput!) { submitComment(input: $input) {
  ... on SubmitFeedbackPayload { feedback { id } } } }`;
const RESULT = `query($id: ID!) { feedbackEntry(id: $id) { pipeline { category categorizedBy } } }`;

describe("the judge as the pipeline's categorizer", () => {
  it("categorizes what the rules leave open by the first judge's verdict", async () => {
    t.worker?.start();
    t.pipelineTick?.start();
    // An answer sharing no word with its question: the rule judge's relevance check fails.
    const answer = await recordInteraction(t, {
      query: "how do refunds work",
      response: "Purple elephants dance quietly.",
    });
    const submitted = await t.gql(COMMENT, {
      input: { interactionId: answer.id, text: "hm", sentiment: "NEGATIVE", userId: "u-judge" },
    });
    const id = submitted.data?.submitComment.feedback.id as string;
    expect(id).toBeTruthy();
    await waitUntil(
      async () => (await t.gql(RESULT, { id })).data?.feedbackEntry.pipeline !== null,
      { timeoutMs: 20_000, what: "the comment to be processed" },
    );
    expect((await t.gql(RESULT, { id })).data?.feedbackEntry.pipeline).toEqual({
      category: "RELEVANCE",
      categorizedBy: "judge:house-rules",
    });
  }, 40_000);

  it("refuses categorize without a judge, with the other configuration problems", async () => {
    const { loadConfig } = await import("../../src/config.js");
    expect(() =>
      loadConfig({
        NODE_ENV: "test",
        JUDGES_CONFIG: JSON.stringify({ categorize: true }),
      }),
    ).toThrow(/categorize needs a judge/);
  });
});
