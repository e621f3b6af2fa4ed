import { statsGroupings, timeIntervals } from "../feedback/analytics.js";
import { erasureModes } from "../feedback/erasure.js";
import { builder } from "./builder.js";

/**
 * GraphQL enums map SCREAMING_CASE names onto the lower-case values stored in MongoDB; each
 * value's description is what analysts read in GraphiQL's docs.
 */
export function enumOf<const Value extends string>(
  name: string,
  description: string,
  values: Record<Value, string>,
) {
  return builder.enumType(name, {
    description,
    values: Object.fromEntries(
      Object.entries<string>(values).map(([value, valueDescription]) => [
        value.toUpperCase(),
        { value: value as Value, description: valueDescription },
      ]),
    ) as Record<string, { value: Value; description: string }>,
  });
}

export const FeedbackKindEnum = enumOf(
  "FeedbackKind",
  "The seven kinds of feedback Loopgate collects.",
  {
    binary: "Thumbs up or down: (query, response, positive/negative); feeds preference pairs.",
    rating: "A score on the key's scale (1–5 by default); feeds reward modelling.",
    correction: "The user's edited response; feeds supervised fine-tuning.",
    comparison: "A side-by-side preference between two responses; feeds DPO/RLHF.",
    comment: "Free text; feeds root-cause analysis.",
    implicit: "A behavioural signal (retry, copy, dwell time, …); an engagement proxy.",
    flag: "A reported issue (safety, accuracy, other) with a severity.",
  },
);

export const FeedbackSourceEnum = enumOf("FeedbackSource", "Who or what produced the feedback.", {
  user: "An end user of the product.",
  expert: "An expert annotator (annotatorId names them).",
  llm_judge: "A stronger model scoring the answer (annotatorId names the judge model).",
  rule: "An automated check such as format, safety or length (annotatorId names the rule).",
  cross_model: "Another model cross-validating the answer (annotatorId names it).",
});

export const SentimentEnum = enumOf(
  "Sentiment",
  "The polarity Loopgate derives from each feedback.",
  {
    positive: "Thumbs up, a rating in the top quarter of its scale, copy/share signals.",
    negative: "Thumbs down, a bottom-quarter rating, corrections, flags, retry/regenerate/abandon.",
    neutral: "Middle ratings, comparisons, plain comments and neutral signals.",
  },
);

export const FeedbackStatusEnum = enumOf("FeedbackStatus", "Whether feedback still counts.", {
  active: "Counts in aggregates and training data.",
  superseded: "Replaced by a later opinion of the same rater; kept as history.",
});

export const ImplicitSignalEnum = enumOf(
  "ImplicitSignal",
  "Behavioural signals a frontend reports.",
  {
    retry: "The user asked again (negative).",
    regenerate: "The user asked for another answer (negative).",
    copy: "The user copied the answer (positive).",
    share: "The user shared the answer (positive).",
    abandon: "The user left without using the answer (negative).",
    dwell: "Time spent reading the answer; value is milliseconds (neutral).",
    session_length: "Length of the session; value is seconds (neutral).",
    follow_up: "The user asked a follow-up question (neutral).",
    edit: "The user edited the answer without submitting a correction (negative).",
  },
);

export const FlagCategoryEnum = enumOf("FlagCategory", "What a flag reports.", {
  safety: "Harmful or unsafe content.",
  accuracy: "A factual error.",
  other: "Anything else worth a look.",
});

export const FlagSeverityEnum = enumOf("FlagSeverity", "How bad a flagged issue is.", {
  low: "Cosmetic.",
  medium: "Worth fixing.",
  high: "Harms users; fix soon.",
  critical: "Needs immediate action (e.g. a guardrail update).",
});

export const FailureCategoryEnum = enumOf(
  "FailureCategory",
  "The seed's failure categories; they decide where the pipeline routes feedback.",
  {
    accuracy: "Factually wrong; becomes fine-tuning data.",
    safety: "Unsafe; triggers guardrail updates.",
    format: "Badly formatted; adjusts prompts and templates.",
    relevance: "Off topic or unhelpful.",
    knowledge_gap: "The model lacked the knowledge; updates the RAG index.",
    feature_request: "Asks for something the product cannot do; goes to the backlog.",
  },
);

export const ComparisonChoiceEnum = enumOf("ComparisonChoice", "Which side of a comparison won.", {
  a: "Side A is better.",
  b: "Side B is better.",
  tie: "Neither is clearly better (excluded from preference pairs).",
});

export const ConflictStatusEnum = enumOf("ConflictStatus", "Where a disagreement stands.", {
  open: "Raters disagree and nobody has decided yet.",
  resolved: "Decided by an admin, or withdrawn by later feedback.",
});

export const ConflictReasonEnum = enumOf("ConflictReason", "Why Loopgate recorded a conflict.", {
  sentiment_disagreement: "Different raters judged the same answer positive and negative.",
  rating_spread:
    "Different raters' ratings on one key are more than half the scale apart (1 and 4 of 5).",
});

export const ConflictDecisionEnum = enumOf("ConflictDecision", "How a conflict was settled.", {
  accept_positive: "The positive judgements stand.",
  accept_negative: "The negative judgements stand.",
  exclude: "Ambiguous: keep this interaction out of training data.",
  dismiss: "Not a real disagreement.",
});

export const ScopeEnum = enumOf("Scope", "What an API key may do.", {
  ingest: "Record interactions, submit feedback, issue feedback tokens.",
  read: "Analysts' queries, aggregates and the live feed.",
  admin: "API keys, feedback keys, conflict resolution and erasure.",
});

export const StatsGroupByEnum = enumOf(
  "StatsGroupBy",
  "How to split aggregates.",
  Object.fromEntries(
    statsGroupings.map((grouping) => [
      grouping,
      {
        none: "No split: only the overall row.",
        model_version: "Per model id and version (interaction rates included).",
        key: "Per feedback key.",
        source: "Per feedback source.",
        kind: "Per feedback kind.",
        category: "Per failure category (null for uncategorized).",
        sentiment: "Per derived sentiment.",
      }[grouping],
    ]),
  ) as Record<(typeof statsGroupings)[number], string>,
);

export const TimeIntervalEnum = enumOf(
  "TimeInterval",
  "Bucket width of a time series (UTC; weeks start on Monday).",
  Object.fromEntries(
    timeIntervals.map((interval) => [interval, `One bucket per ${interval}.`]),
  ) as Record<(typeof timeIntervals)[number], string>,
);

export const ErasureModeEnum = enumOf(
  "ErasureMode",
  "How eraseUser treats a user's data.",
  Object.fromEntries(
    erasureModes.map((mode) => [
      mode,
      mode === "delete"
        ? "Delete the user's interactions, their feedback and all feedback about those interactions."
        : "Keep text-free signals (kind, sentiment, score) but remove all text and every link to the user.",
    ]),
  ) as Record<(typeof erasureModes)[number], string>,
);
