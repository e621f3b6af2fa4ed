import type { InputFieldBuilder } from "@pothos/core";
import { bodyLimitNote } from "../body-limits.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import type { FeedbackFilter } from "../feedback/filters.js";
import type { FeedbackSubmission } from "../feedback/ingest.js";
import type { FeedbackDoc, FeedbackKind } from "../feedback/model.js";
import { type BuilderTypes, builder } from "../schema/builder.js";
import { countedConnection, localId, toConnection, withoutNulls } from "../schema/common.js";
import {
  ComparisonChoiceEnum,
  FailureCategoryEnum,
  FeedbackKindEnum,
  FeedbackSourceEnum,
  FlagCategoryEnum,
  FlagSeverityEnum,
  ImplicitSignalEnum,
  SentimentEnum,
} from "../schema/enums.js";
import { FeedbackFilterInput, FeedbackInterface, feedbackTypeNames } from "../schema/feedback.js";
import { SubmitFeedbackPayload } from "../schema/payloads.js";

const feedbackTypenames = Object.values(feedbackTypeNames);

const SubmitFeedbackResult = builder.errorUnion("SubmitFeedbackResult", {
  description: "The stored feedback, or why nothing was stored.",
  types: [SubmitFeedbackPayload, ValidationError, NotFoundError, ConflictError, ForbiddenError],
});

type Fields = InputFieldBuilder<BuilderTypes, "InputObject">;

/** Fields every feedback input shares; `withCategory` is false for flags, which have their own. */
function commonFields(t: Fields, withCategory = true) {
  return {
    key: t.string({
      description:
        "Feedback key (metric name). Defaults per kind: thumbs, rating, correction, preference, comment, implicit, flag.",
    }),
    source: t.field({
      type: FeedbackSourceEnum,
      description: "Who produced it (default USER; tokens are always USER).",
    }),
    annotatorId: t.string({
      description: "The expert, judge model, rule or model that produced it (non-user sources).",
    }),
    userId: t.string({
      description:
        "The product's id of the person giving feedback (pseudonymized); defaults to the interaction's user.",
    }),
    comment: t.string({ description: "Optional detail in the rater's words." }),
    ...(withCategory
      ? {
          category: t.field({
            type: FailureCategoryEnum,
            description: "Failure category, if the rater picked one.",
          }),
        }
      : {}),
    metadata: t.field({ type: "JSONObject", description: "Free metadata (≤ 16 KiB of JSON)." }),
    createdAt: t.field({
      type: "DateTime",
      description: "When the feedback was given; defaults to now.",
    }),
    idempotencyKey: t.string({
      description:
        "Any unique string (a UUID): sending the same key again returns the stored feedback.",
    }),
  };
}

const interactionIdField = (t: Fields) =>
  t.id({
    required: true,
    description: "The interaction judged (its id as returned by recordInteraction).",
  });

const inputs = {
  binary: builder.inputType("BinaryFeedbackInput", {
    description: "Thumbs up or down on one answer.",
    fields: (t) => ({
      interactionId: interactionIdField(t),
      positive: t.boolean({ required: true, description: "True for thumbs up." }),
      ...commonFields(t),
    }),
  }),
  rating: builder.inputType("RatingFeedbackInput", {
    description:
      "A score on the key's scale (1–5 whole numbers unless the key declares otherwise).",
    fields: (t) => ({
      interactionId: interactionIdField(t),
      score: t.float({ required: true, description: "The score." }),
      ...commonFields(t),
    }),
  }),
  correction: builder.inputType("CorrectionFeedbackInput", {
    description: "The response as it should have been; the original is kept alongside.",
    fields: (t) => ({
      interactionId: interactionIdField(t),
      correctedResponse: t.string({ required: true, description: "The corrected response." }),
      ...commonFields(t),
    }),
  }),
  comparison: builder.inputType("ComparisonFeedbackInput", {
    description: "A side-by-side preference. Each side is a recorded interaction or inline text.",
    fields: (t) => ({
      prompt: t.string({
        description: "The prompt; defaults to the query of the first side's interaction.",
      }),
      a: t.field({ type: ComparisonSideInput, required: true, description: "Side A." }),
      b: t.field({ type: ComparisonSideInput, required: true, description: "Side B." }),
      preferred: t.field({
        type: ComparisonChoiceEnum,
        required: true,
        description: "A, B or TIE.",
      }),
      strength: t.float({ description: "How clear the preference is, 0 (barely) to 1 (obvious)." }),
      reason: t.string({ description: "Why, in the rater's words." }),
      ...commonFields(t),
    }),
  }),
  comment: builder.inputType("CommentFeedbackInput", {
    description: "Free-text feedback.",
    fields: (t) => ({
      interactionId: interactionIdField(t),
      text: t.string({ required: true, description: "The comment." }),
      sentiment: t.field({
        type: SentimentEnum,
        description: "Its polarity, if known (default NEUTRAL).",
      }),
      ...commonFields(t),
    }),
  }),
  implicit: builder.inputType("ImplicitFeedbackInput", {
    description: "A behavioural signal.",
    fields: (t) => ({
      interactionId: interactionIdField(t),
      signal: t.field({
        type: ImplicitSignalEnum,
        required: true,
        description: "What the user did.",
      }),
      value: t.float({
        description: "Milliseconds for DWELL, seconds for SESSION_LENGTH (required for those).",
      }),
      ...commonFields(t),
    }),
  }),
  flag: builder.inputType("FlagFeedbackInput", {
    description: "Reports an issue with an answer.",
    fields: (t) => ({
      interactionId: interactionIdField(t),
      category: t.field({
        type: FlagCategoryEnum,
        required: true,
        description: "SAFETY, ACCURACY or OTHER.",
      }),
      severity: t.field({ type: FlagSeverityEnum, description: "How bad (default MEDIUM)." }),
      reason: t.string({ description: "What is wrong." }),
      ...commonFields(t, false),
    }),
  }),
};

// Declared after use above on purpose: Pothos resolves input refs lazily at schema build time.
const ComparisonSideInput = builder.inputType("ComparisonSideInput", {
  description: "One side of a comparison: a recorded interaction, or inline text.",
  fields: (t) => ({
    interactionId: t.id({ description: "A recorded interaction shown on this side." }),
    text: t.string({ description: "The response shown on this side, when it was not recorded." }),
  }),
});

const mutationDescriptions: Record<FeedbackKind, string> = {
  binary: "Thumbs up/down on an answer. Needs an ingest key or the interaction's feedback token.",
  rating: "A star rating. Needs an ingest key or the interaction's feedback token.",
  correction:
    "A corrected answer (SFT data). Needs an ingest key or the interaction's feedback token.",
  comparison:
    "A side-by-side preference (DPO data). Needs an ingest key, or a token for one of the sides.",
  comment: "A free-text comment. Needs an ingest key or the interaction's feedback token.",
  implicit: "A behavioural signal. Needs an ingest key or the interaction's feedback token.",
  flag: "Reports a problem (safety, accuracy, other). Needs an ingest key or the interaction's feedback token.",
};

const mutationNames: Record<FeedbackKind, string> = {
  binary: "submitBinaryFeedback",
  rating: "submitRating",
  correction: "submitCorrection",
  comparison: "submitComparison",
  comment: "submitComment",
  implicit: "submitImplicitSignal",
  flag: "submitFlag",
};

/** GraphQL ids (global or raw) become database ids before the service sees the input. */
function toSubmission(kind: FeedbackKind, raw: Record<string, unknown>): FeedbackSubmission {
  const input = withoutNulls(raw) as Record<string, unknown>;
  if (typeof input.interactionId === "string") {
    input.interactionId = localId(input.interactionId, ["Interaction"], "input.interactionId");
  }
  for (const side of ["a", "b"] as const) {
    const value = input[side] as { interactionId?: string } | undefined;
    if (value?.interactionId) {
      input[side] = {
        ...value,
        interactionId: localId(value.interactionId, ["Interaction"], `input.${side}.interactionId`),
      };
    }
  }
  return { kind, input } as FeedbackSubmission;
}

builder.mutationFields((t) =>
  Object.fromEntries(
    (Object.keys(inputs) as FeedbackKind[]).map((kind) => [
      mutationNames[kind],
      t.field({
        type: SubmitFeedbackResult,
        authScopes: { feedbackToken: true },
        description: `${mutationDescriptions[kind]} ${bodyLimitNote(mutationNames[kind])}`,
        args: {
          input: t.arg({ type: inputs[kind], required: true, description: "The feedback." }),
        },
        resolve: async (_root, args, context) => {
          const result = await context.services.feedback.submit(
            toSubmission(kind, args.input as Record<string, unknown>),
            context.principal,
          );
          return new SubmitFeedbackPayload(
            result.feedback,
            result.duplicate,
            result.supersededIds.map((id) => id.toHexString()),
            result.conflict,
          );
        },
      }),
    ]),
  ),
);

/** Filter arguments arrive with GraphQL ids; services want database ids. */
export function toFeedbackFilter(raw: unknown): FeedbackFilter {
  const filter = withoutNulls(raw ?? {}) as FeedbackFilter & { interactionId?: string };
  if (filter.interactionId) {
    return {
      ...filter,
      interactionId: localId(filter.interactionId, ["Interaction"], "filter.interactionId"),
    };
  }
  return filter;
}

builder.queryFields((t) => ({
  feedbackEntry: t.field({
    type: FeedbackInterface,
    nullable: true,
    authScopes: { read: true },
    description: "One feedback item by id (global ID or database id); null when it does not exist.",
    args: { id: t.arg.id({ required: true, description: "The feedback's id." }) },
    resolve: (_root, args, context) =>
      context.loaders.feedback.load(localId(String(args.id), feedbackTypenames, "id")),
  }),
  feedback: t.connection(
    {
      type: FeedbackInterface,
      authScopes: { read: true },
      description:
        "Feedback matching a filter, newest first. Superseded feedback is left out unless asked for.",
      args: {
        filter: t.arg({ type: FeedbackFilterInput, description: "Conditions; all must hold." }),
      },
      resolve: async (_root, args, context) =>
        toConnection(await context.services.feedback.list(toFeedbackFilter(args.filter), args)),
    },
    countedConnection("FeedbackConnection", "feedback items", "newest first"),
    { name: "FeedbackEdge", description: "One feedback item and its cursor." },
  ),
}));

const FeedbackStreamFilter = builder.inputType("FeedbackStreamFilter", {
  description: "Which new feedback a live subscription delivers; all given conditions must hold.",
  fields: (t) => ({
    modelId: t.string({ description: "Model id of the judged interaction." }),
    modelVersion: t.string({ description: "Model version." }),
    interactionId: t.id({ description: "Only feedback touching this interaction." }),
    kinds: t.field({ type: [FeedbackKindEnum], description: "Feedback kinds." }),
    keys: t.stringList({ description: "Feedback keys." }),
    sentiments: t.field({ type: [SentimentEnum], description: "Sentiments." }),
    sources: t.field({ type: [FeedbackSourceEnum], description: "Sources." }),
  }),
});

type StreamFilter = {
  modelId?: string;
  modelVersion?: string;
  interactionId?: string;
  kinds?: string[];
  keys?: string[];
  sentiments?: string[];
  sources?: string[];
};

function matchesStream(filter: StreamFilter, feedback: FeedbackDoc): boolean {
  if (filter.modelId && feedback.model?.id !== filter.modelId) return false;
  if (filter.modelVersion && feedback.model?.version !== filter.modelVersion) return false;
  if (
    filter.interactionId &&
    !feedback.interactionIds.some((id) => id.toHexString() === filter.interactionId)
  )
    return false;
  if (filter.kinds?.length && !filter.kinds.includes(feedback.kind)) return false;
  if (filter.keys?.length && !filter.keys.includes(feedback.key)) return false;
  if (filter.sentiments?.length && !filter.sentiments.includes(feedback.sentiment)) return false;
  if (filter.sources?.length && !filter.sources.includes(feedback.source)) return false;
  return true;
}

builder.subscriptionType({
  description: "Live streams over server-sent events (send `Accept: text/event-stream`).",
});

builder.subscriptionField("feedbackReceived", (t) =>
  t.field({
    type: FeedbackInterface,
    authScopes: { read: true },
    description:
      "Every new feedback item stored by this instance that matches the filter, as it arrives (for live dashboards).",
    args: {
      filter: t.arg({ type: FeedbackStreamFilter, description: "Which feedback to deliver." }),
    },
    subscribe: (_root, args, context) => {
      const filter = withoutNulls(args.filter ?? {}) as StreamFilter;
      if (filter.interactionId)
        filter.interactionId = localId(
          filter.interactionId,
          ["Interaction"],
          "filter.interactionId",
        );
      const controller = new AbortController();
      const source = context.services.events.stream("feedbackRecorded", controller.signal);
      // A hand-written iterator rather than an async generator: a generator suspended in `await`
      // cannot run its cleanup when the client disconnects, this one aborts the stream at once.
      return {
        [Symbol.asyncIterator]() {
          const iterator = source[Symbol.asyncIterator]();
          return {
            async next() {
              for (;;) {
                const next = await iterator.next();
                if (next.done || matchesStream(filter, next.value)) return next;
              }
            },
            async return() {
              controller.abort();
              return iterator.return
                ? iterator.return()
                : { done: true as const, value: undefined };
            },
          };
        },
      };
    },
    resolve: (feedback: FeedbackDoc) => feedback,
  }),
);
