import type { Categorizer } from "./categorize.js";
import type { Judge, JudgeRubric } from "./judge.js";

/**
 * Categorization by an LLM judge: the judge evaluates the answer the feedback is about (with the
 * user's comment or correction as context) and its category is taken when it names one. No
 * interaction (a comparison of inline texts) or no category: null, so the next categorizer runs.
 * A judge failure (endpoint down, malformed output) propagates: the pipeline's job retries.
 */
export function createJudgeCategorizer(judge: Judge, rubric: JudgeRubric): Categorizer {
  return async ({ feedback, interaction }) => {
    if (!interaction) return null;
    const remarks = [
      feedback.comment,
      feedback.correction
        ? `The user corrected it to: ${feedback.correction.correctedResponse}`
        : undefined,
      feedback.flag
        ? `The user flagged it (${feedback.flag.category}): ${feedback.flag.reason ?? ""}`
        : undefined,
    ].filter((remark): remark is string => Boolean(remark));
    const verdict = await judge.evaluate({
      query: interaction.query,
      response: interaction.response,
      ...(interaction.messages ? { messages: interaction.messages } : {}),
      rubric:
        remarks.length === 0
          ? rubric
          : {
              ...rubric,
              instructions: `${rubric.instructions}\n\nUser feedback on this answer: ${remarks.join(" ")}`,
            },
    });
    if (!verdict.category) return null;
    return { category: verdict.category, by: `judge:${judge.name}` };
  };
}
