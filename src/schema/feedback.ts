import type { InputFieldBuilder, ObjectFieldsShape } from "@pothos/core";
import type { ObjectId } from "mongodb";
import { z } from "zod";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import {
  feedbackFilterSchema,
  feedbackStreamFilterSchema,
  timeRangeSchema,
} from "../feedback/filter.js";
import type {
  ComparisonSide,
  FeedbackDoc,
  FeedbackKeyDoc,
  FeedbackKind,
} from "../store/documents.js";
import {
  type ConflictDoc,
  failureCategories,
  feedbackKinds,
  feedbackSources,
  flagCategories,
  sentiments,
} from "../store/documents.js";
import { loadAll, loadByHex } from "../store/loaders.js";
import { type BuilderTypes, builder } from "./builder.js";
import {
  enumOf,
  ModelRefType,
  RATER_OR_READ,
  READ_ONLY,
  RedactionCountsType,
  TimeRangeInput,
  visibleToWriter,
} from "./common.js";
import { InteractionRef } from "./interactions.js";

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

export const FeedbackInterface = builder.interfaceRef<FeedbackDoc>("Feedback");

/** GraphQL type of each kind; global ids carry it, so a RatingFeedback id only loads a rating. */
export const feedbackTypeNames: Record<FeedbackKind, string> = {
  binary: "BinaryFeedback",
  rating: "RatingFeedback",
  correction: "CorrectionFeedback",
  comparison: "ComparisonFeedback",
  comment: "CommentFeedback",
  implicit: "ImplicitFeedback",
  flag: "FlagFeedback",
};

FeedbackInterface.implement({
  description:
    "One piece of feedback on a model answer. Each kind is its own type; select kind-specific fields with `... on RatingFeedback { score }`.",
  interfaces: [builder.nodeInterfaceRef()],
  fields: (t) => ({
    id: t.globalID({
      description: "Globally unique, opaque ID.",
      resolve: (feedback) => ({
        id: feedback._id.toHexString(),
        type: feedbackTypeNames[feedback.kind],
      }),
    }),
    kind: t.field({
      type: FeedbackKindEnum,
      description: "Which kind of feedback.",
      resolve: (f) => f.kind,
    }),
    key: t.exposeString("key", {
      description:
        "The feedback key (metric name), e.g. `thumbs`, `helpfulness`; validated when declared.",
    }),
    interaction: t.field({
      type: InteractionRef,
      nullable: true,
      // Reachable from write payloads, which show only what the writer sent (see READ_ONLY).
      authScopes: READ_ONLY,
      description:
        "The interaction judged (side A's for comparisons; null for comparisons of inline texts). READ only.",
      resolve: (feedback, _args, context) =>
        feedback.interactionId ? context.loaders.interaction.load(feedback.interactionId) : null,
    }),
    model: t.field({
      type: ModelRefType,
      nullable: true,
      authScopes: READ_ONLY,
      description: "The model of the judged interaction (copied from it, so READ only).",
      resolve: (feedback) => feedback.model ?? null,
    }),
    sessionId: t.exposeString("sessionId", {
      nullable: true,
      authScopes: READ_ONLY,
      description: "The interaction's session id (copied from it, so READ only).",
    }),
    userId: t.exposeString("userId", {
      nullable: true,
      authScopes: READ_ONLY,
      description:
        "Pseudonymous id of the person who gave it (the interaction's user unless one was sent; READ only).",
    }),
    source: t.field({
      type: FeedbackSourceEnum,
      description: "Who or what produced it.",
      resolve: (f) => f.source,
    }),
    annotatorId: t.exposeString("annotatorId", {
      nullable: true,
      description: "The expert, judge model, rule or cross-validating model that produced it.",
    }),
    sentiment: t.field({
      type: SentimentEnum,
      description: "Derived polarity.",
      resolve: (f) => f.sentiment,
    }),
    status: t.field({
      type: FeedbackStatusEnum,
      description: "ACTIVE, or SUPERSEDED by a later opinion of the same rater.",
      resolve: (f) => f.status,
    }),
    supersededBy: t.field({
      type: FeedbackInterface,
      nullable: true,
      authScopes: RATER_OR_READ,
      description:
        "The later feedback of the same rater that replaced this one. Without READ, only when this credential submitted it.",
      resolve: async (feedback, _args, context) => {
        if (!feedback.supersededBy) return null;
        const later = await context.loaders.feedback.load(feedback.supersededBy);
        return later && visibleToWriter(context, [later]).length > 0 ? later : null;
      },
    }),
    history: t.field({
      type: [FeedbackInterface],
      authScopes: RATER_OR_READ,
      description:
        "Earlier feedback of the same rater that this one replaced, newest first. Without READ, only the entries this credential submitted (a rater's own history).",
      resolve: async (feedback, _args, context) =>
        visibleToWriter(context, await context.loaders.supersededBy.load(feedback._id)),
    }),
    comment: t.exposeString("comment", {
      nullable: true,
      description: "Optional free text (PII redacted).",
    }),
    category: t.field({
      type: FailureCategoryEnum,
      nullable: true,
      description: "Failure category, when the rater or a flag gave one.",
      resolve: (feedback) => feedback.category ?? null,
    }),
    metadata: t.field({
      type: "JSONObject",
      nullable: true,
      description: "Free metadata sent with the feedback.",
      resolve: (feedback) => feedback.metadata ?? null,
    }),
    createdAt: t.expose("createdAt", {
      type: "DateTime",
      description: "When the feedback was given.",
    }),
    receivedAt: t.expose("receivedAt", {
      type: "DateTime",
      description: "When Loopgate stored it.",
    }),
    idempotencyKey: t.exposeString("idempotencyKey", {
      nullable: true,
      description: "The client's idempotency key.",
    }),
    redactions: t.field({
      type: RedactionCountsType,
      nullable: true,
      description: "What PII was replaced on ingest, if any.",
      resolve: (feedback) => feedback.redactions ?? null,
    }),
  }),
});

/** Each kind is a Node of its own; a global id of one kind never loads feedback of another. */
function feedbackNode<Kind extends FeedbackKind>(
  kind: Kind,
  name: string,
  description: string,
  fields: ObjectFieldsShape<BuilderTypes, FeedbackDoc>,
) {
  const ref = builder.objectRef<FeedbackDoc>(name);
  builder.node(ref, {
    description,
    interfaces: [FeedbackInterface],
    id: { resolve: (feedback) => feedback._id.toHexString() },
    isTypeOf: (value) =>
      typeof value === "object" &&
      value !== null &&
      (value as FeedbackDoc).kind === kind &&
      "sentiment" in value,
    loadMany: async (ids, context) =>
      (await loadByHex(context.loaders.feedback, ids)).map((feedback) =>
        feedback?.kind === kind ? feedback : null,
      ),
    fields,
  });
  return ref;
}

feedbackNode("binary", "BinaryFeedback", "Thumbs up or down.", (t) => ({
  positive: t.boolean({
    description: "True for thumbs up.",
    resolve: (f) => f.binary?.positive ?? false,
  }),
}));

feedbackNode("rating", "RatingFeedback", "A score on the key's scale.", (t) => ({
  score: t.float({ description: "The score as given.", resolve: (f) => f.rating?.score ?? 0 }),
  scaleMin: t.float({
    description: "Lowest score of the key's scale.",
    resolve: (f) => f.rating?.min ?? 1,
  }),
  scaleMax: t.float({
    description: "Highest score of the key's scale.",
    resolve: (f) => f.rating?.max ?? 5,
  }),
  normalizedScore: t.float({
    description: "The score mapped to 0 (worst) … 1 (best), honouring isLowerScoreBetter.",
    resolve: (f) => f.rating?.normalized ?? 0,
  }),
}));

feedbackNode("correction", "CorrectionFeedback", "An edited response (SFT data).", (t) => ({
  originalResponse: t.string({
    authScopes: READ_ONLY,
    description:
      "The model's response as it was when corrected (copied from the interaction, so READ only).",
    resolve: (f) => f.correction?.originalResponse ?? "",
  }),
  correctedResponse: t.string({
    description: "The response as the rater corrected it (PII redacted).",
    resolve: (f) => f.correction?.correctedResponse ?? "",
  }),
}));

const ComparisonSideType = builder.objectRef<ComparisonSide>("ComparisonSide").implement({
  description: "One side of a side-by-side comparison.",
  fields: (t) => ({
    interaction: t.field({
      type: InteractionRef,
      nullable: true,
      authScopes: READ_ONLY,
      description: "The recorded interaction shown on this side, if it was one (READ only).",
      resolve: (side, _args, context) =>
        side.interactionId ? context.loaders.interaction.load(side.interactionId) : null,
    }),
    text: t.exposeString("text", {
      authScopes: READ_ONLY,
      description:
        "The response shown on this side (a recorded interaction's response, so READ only).",
    }),
    model: t.field({
      type: ModelRefType,
      nullable: true,
      authScopes: READ_ONLY,
      description: "The model behind this side, when known (READ only).",
      resolve: (side) => side.model ?? null,
    }),
  }),
});

feedbackNode("comparison", "ComparisonFeedback", "A side-by-side preference (DPO data).", (t) => ({
  prompt: t.string({
    authScopes: READ_ONLY,
    description:
      "The prompt both sides answer (the first interaction's query unless one was sent; READ only).",
    resolve: (f) => f.comparison?.prompt ?? "",
  }),
  a: t.field({
    type: ComparisonSideType,
    description: "Side A.",
    resolve: (f) => f.comparison?.a ?? { text: "" },
  }),
  b: t.field({
    type: ComparisonSideType,
    description: "Side B.",
    resolve: (f) => f.comparison?.b ?? { text: "" },
  }),
  preferred: t.field({
    type: ComparisonChoiceEnum,
    description: "Which side won, or TIE.",
    resolve: (f) => f.comparison?.preferred ?? "tie",
  }),
  strength: t.float({
    nullable: true,
    description: "How clear the preference is, 0–1 (the seed asks for a clear quality difference).",
    resolve: (f) => f.comparison?.strength ?? null,
  }),
  reason: t.string({
    nullable: true,
    description: "Why, in the rater's words.",
    resolve: (f) => f.comparison?.reason ?? null,
  }),
}));

feedbackNode("comment", "CommentFeedback", "Free-text feedback.", (t) => ({
  text: t.string({ description: "The comment (PII redacted).", resolve: (f) => f.comment ?? "" }),
}));

feedbackNode("implicit", "ImplicitFeedback", "A behavioural signal.", (t) => ({
  signal: t.field({
    type: ImplicitSignalEnum,
    description: "What the user did.",
    resolve: (f) => f.implicit?.signal ?? "copy",
  }),
  value: t.float({
    nullable: true,
    description: "Milliseconds for DWELL, seconds for SESSION_LENGTH, otherwise optional.",
    resolve: (f) => f.implicit?.value ?? null,
  }),
}));

feedbackNode("flag", "FlagFeedback", "A reported issue.", (t) => ({
  flagCategory: t.field({
    type: FlagCategoryEnum,
    description: "What was reported.",
    resolve: (f) => f.flag?.category ?? "other",
  }),
  severity: t.field({
    type: FlagSeverityEnum,
    description: "How bad it is.",
    resolve: (f) => f.flag?.severity ?? "medium",
  }),
  reason: t.string({
    nullable: true,
    description: "The reporter's words.",
    resolve: (f) => f.flag?.reason ?? null,
  }),
}));

builder.objectFields(InteractionRef, (t) => ({
  feedback: t.field({
    type: [FeedbackInterface],
    // Write payloads lead here too (recordInteraction, submit*): other raters' feedback needs read.
    authScopes: { read: true },
    args: {
      limit: t.arg.int({
        defaultValue: 100,
        description:
          "At most this many, newest first (1–500); page with Query.feedback(filter: { interactionId }).",
      }),
    },
    description:
      "Active feedback on this interaction (including comparisons it appears in), newest first.",
    resolve: async (interaction, args, context) => {
      const limit = args.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new ValidationError([{ path: "limit", message: "must be between 1 and 500" }]);
      }
      const all = await context.loaders.feedbackOfInteraction.load(interaction._id);
      return all.slice(0, limit);
    },
  }),
}));

export class SubmitFeedbackPayload {
  constructor(
    readonly feedback: FeedbackDoc,
    readonly duplicate: boolean,
    readonly superseded: readonly ObjectId[],
    /** Checked after the write; only a client that selects `conflict` waits for it. */
    readonly conflict: () => Promise<ConflictDoc | null>,
  ) {}
}

builder.objectType(SubmitFeedbackPayload, {
  isTypeOf: (value) => value instanceof SubmitFeedbackPayload,
  name: "SubmitFeedbackPayload",
  description: "The stored feedback and what it changed.",
  fields: (t) => ({
    feedback: t.field({
      type: FeedbackInterface,
      description: "The feedback.",
      resolve: (payload) => payload.feedback,
    }),
    duplicate: t.exposeBoolean("duplicate", {
      description:
        "True when the idempotency key was seen before; the earlier feedback is returned.",
    }),
    superseded: t.field({
      type: [FeedbackInterface],
      description:
        "Earlier feedback of the same rater that this one replaced. Without READ, only the entries this credential submitted.",
      resolve: async (payload, _args, context) =>
        visibleToWriter(
          context,
          (await loadAll(context.loaders.feedback, payload.superseded)).filter(
            (item): item is FeedbackDoc => item !== null,
          ),
        ),
    }),
  }),
});

export const SubmitFeedbackResult = builder.errorUnion("SubmitFeedbackResult", {
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

/** The input type of each kind's submit mutation. */
export const feedbackInputTypes = {
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

/** GraphQL enums of the filter's enum-valued lists, by the values the zod enums hold. */
const enumsByValues = new Map<string, typeof FeedbackKindEnum>([
  [feedbackKinds.join(), FeedbackKindEnum],
  [sentiments.join(), SentimentEnum],
  [feedbackSources.join(), FeedbackSourceEnum],
  [failureCategories.join(), FailureCategoryEnum],
  [flagCategories.join(), FlagCategoryEnum],
] as Array<[string, typeof FeedbackKindEnum]>);

/**
 * Input fields derived from the zod filter (feedback/filter.ts), so the filter is declared once:
 * each field's GraphQL type follows its zod type, its description is the zod description unless
 * `descriptions` overrides it.
 */
function filterFields(
  t: Fields,
  shape: Record<string, z.ZodType>,
  descriptions: Partial<Record<string, string>> = {},
) {
  return Object.fromEntries(
    Object.entries(shape).map(([name, field]) => {
      const description = descriptions[name] ?? field.description ?? "";
      let inner: z.ZodType = field;
      while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) {
        inner = inner.unwrap() as z.ZodType;
      }
      if (inner === timeRangeSchema) return [name, t.field({ type: TimeRangeInput, description })];
      if (inner instanceof z.ZodPipe) return [name, t.id({ description })];
      if (inner instanceof z.ZodString) return [name, t.string({ description })];
      if (inner instanceof z.ZodNumber) return [name, t.float({ description })];
      if (inner instanceof z.ZodBoolean) return [name, t.boolean({ description })];
      if (inner instanceof z.ZodArray) {
        const element = inner.element;
        if (element instanceof z.ZodString) return [name, t.stringList({ description })];
        const type =
          element instanceof z.ZodEnum ? enumsByValues.get(element.options.join()) : undefined;
        if (type) return [name, t.field({ type: [type], description })];
      }
      throw new Error(`filter field ${name} has no GraphQL counterpart`);
    }),
  );
}

export const FeedbackFilterInput = builder.inputType("FeedbackFilter", {
  description: "Narrows feedback; all given conditions must hold, lists match any of their values.",
  fields: (t) => filterFields(t, feedbackFilterSchema.shape),
});

export const FeedbackStreamFilterInput = builder.inputType("FeedbackStreamFilter", {
  description: "Which new feedback a live subscription delivers; all given conditions must hold.",
  fields: (t) =>
    filterFields(t, feedbackStreamFilterSchema.shape, {
      modelVersion: "Model version.",
      sentiments: "Sentiments.",
    }),
});

const RatingScaleType = builder
  .objectRef<NonNullable<FeedbackKeyDoc["rating"]>>("RatingScale")
  .implement({
    description: "The score range a rating key accepts.",
    fields: (t) => ({
      min: t.exposeFloat("min", { description: "Lowest allowed score." }),
      max: t.exposeFloat("max", { description: "Highest allowed score." }),
      integer: t.exposeBoolean("integer", {
        description: "Whether only whole numbers are accepted.",
      }),
    }),
  });

export const FeedbackKeyConfigType = builder
  .objectRef<FeedbackKeyDoc>("FeedbackKeyConfig")
  .implement({
    description:
      "A declared feedback key (like LangSmith's feedback configs, but enforced): feedback on this key must be of its kind and within its bounds.",
    isTypeOf: (value) =>
      typeof value === "object" && value !== null && "isLowerScoreBetter" in value,
    fields: (t) => ({
      key: t.string({ description: "The key name.", resolve: (config) => config._id }),
      kind: t.field({
        type: FeedbackKindEnum,
        description: "The only feedback kind accepted.",
        resolve: (c) => c.kind,
      }),
      description: t.exposeString("description", {
        nullable: true,
        description: "What the key measures.",
      }),
      rating: t.field({
        type: RatingScaleType,
        nullable: true,
        description: "Score range for rating keys (default 1–5, whole numbers).",
        resolve: (config) => config.rating ?? null,
      }),
      categories: t.field({
        type: [FailureCategoryEnum],
        description: "Failure categories allowed with this key; empty means any.",
        resolve: (config) => config.categories ?? [],
      }),
      isLowerScoreBetter: t.exposeBoolean("isLowerScoreBetter", {
        description: "True when low ratings are good (e.g. a toxicity score).",
      }),
      createdAt: t.expose("createdAt", { type: "DateTime", description: "When first declared." }),
      updatedAt: t.expose("updatedAt", { type: "DateTime", description: "When last changed." }),
    }),
  });

const RatingScaleInput = builder.inputType("RatingScaleInput", {
  description: "The score range of a rating key.",
  fields: (t) => ({
    min: t.float({ required: true, description: "Lowest allowed score." }),
    max: t.float({ required: true, description: "Highest allowed score." }),
    integer: t.boolean({
      defaultValue: true,
      description: "Accept only whole numbers (default true).",
    }),
  }),
});

export const FeedbackKeyInputType = builder.inputType("FeedbackKeyInput", {
  description: "Declares (or redefines) a feedback key and the rules its feedback must follow.",
  fields: (t) => ({
    key: t.string({
      required: true,
      description: "Key name: a letter, then letters, digits, _ . : -",
    }),
    kind: t.field({
      type: FeedbackKindEnum,
      required: true,
      description: "The only kind of feedback accepted.",
    }),
    description: t.string({
      description: "What the key measures (shown to annotators and analysts).",
    }),
    rating: t.field({
      type: RatingScaleInput,
      description: "Score range (rating keys only; default 1–5).",
    }),
    categories: t.field({
      type: [FailureCategoryEnum],
      description: "Allowed failure categories; empty for any.",
    }),
    isLowerScoreBetter: t.boolean({
      defaultValue: false,
      description: "True when low ratings are good.",
    }),
  }),
});

export const DefineFeedbackKeyResult = builder.errorUnion("DefineFeedbackKeyResult", {
  description: "The saved key config, or why it was rejected.",
  types: [FeedbackKeyConfigType, ValidationError, ForbiddenError],
});

export const DeleteFeedbackKeyResult = builder.errorUnion("DeleteFeedbackKeyResult", {
  description: "The removed key config, or why nothing was removed.",
  types: [FeedbackKeyConfigType, ValidationError, NotFoundError, ForbiddenError],
});
