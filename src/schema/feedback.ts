import type { ObjectFieldsShape } from "@pothos/core";
import { ValidationError } from "../errors.js";
import type { ComparisonSide, FeedbackDoc, FeedbackKind } from "../store/documents.js";
import { loadAll } from "../store/loaders.js";
import { type BuilderTypes, builder } from "./builder.js";
import { ModelRefType, RedactionCountsType, TimeRangeInput } from "./common.js";
import {
  ComparisonChoiceEnum,
  FailureCategoryEnum,
  FeedbackKindEnum,
  FeedbackSourceEnum,
  FeedbackStatusEnum,
  FlagCategoryEnum,
  FlagSeverityEnum,
  ImplicitSignalEnum,
  SentimentEnum,
} from "./enums.js";
import { InteractionRef } from "./interactions.js";

export const FeedbackInterface = builder.interfaceRef<FeedbackDoc>("Feedback");

/** Scopes for a field that shows an interaction: the read scope, or a token bound to it. */
export function readOrBound(interactionId: { toHexString(): string } | string | undefined) {
  const id = typeof interactionId === "string" ? interactionId : interactionId?.toHexString();
  return { $any: { read: true, ...(id ? { boundInteraction: id } : {}) } };
}

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
      // Reachable from write payloads: only readers, or the token of that very interaction.
      authScopes: (feedback) => readOrBound(feedback.interactionId),
      description:
        "The interaction judged (side A's for comparisons; null for comparisons of inline texts).",
      resolve: (feedback, _args, context) =>
        feedback.interactionId
          ? context.loaders.interaction.load(feedback.interactionId.toHexString())
          : null,
    }),
    model: t.field({
      type: ModelRefType,
      nullable: true,
      description: "The model of the judged interaction.",
      resolve: (feedback) => feedback.model ?? null,
    }),
    sessionId: t.exposeString("sessionId", {
      nullable: true,
      description: "The interaction's session id.",
    }),
    userId: t.exposeString("userId", {
      nullable: true,
      description: "Pseudonymous id of the person who gave it.",
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
      authScopes: { read: true },
      description: "The later feedback of the same rater that replaced this one.",
      resolve: (feedback, _args, context) =>
        feedback.supersededBy
          ? context.loaders.feedback.load(feedback.supersededBy.toHexString())
          : null,
    }),
    history: t.field({
      type: [FeedbackInterface],
      authScopes: { read: true },
      description: "Earlier feedback of the same rater that this one replaced, newest first.",
      resolve: (feedback, _args, context) =>
        context.loaders.supersededBy.load(feedback._id.toHexString()),
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
      (await loadAll(context.loaders.feedback, ids)).map((feedback) =>
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
    description: "The model's response as it was when corrected.",
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
      authScopes: (side) => readOrBound(side.interactionId),
      description: "The recorded interaction shown on this side, if it was one.",
      resolve: (side, _args, context) =>
        side.interactionId
          ? context.loaders.interaction.load(side.interactionId.toHexString())
          : null,
    }),
    text: t.exposeString("text", { description: "The response shown on this side." }),
    model: t.field({
      type: ModelRefType,
      nullable: true,
      description: "The model behind this side, when known.",
      resolve: (side) => side.model ?? null,
    }),
  }),
});

feedbackNode("comparison", "ComparisonFeedback", "A side-by-side preference (DPO data).", (t) => ({
  prompt: t.string({
    description: "The prompt both sides answer.",
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
      const all = await context.loaders.feedbackOfInteraction.load(interaction._id.toHexString());
      return all.slice(0, limit);
    },
  }),
}));

export const FeedbackFilterInput = builder.inputType("FeedbackFilter", {
  description: "Narrows feedback; all given conditions must hold, lists match any of their values.",
  fields: (t) => ({
    createdAt: t.field({ type: TimeRangeInput, description: "When the feedback was given." }),
    modelId: t.string({ description: "Model id of the judged interaction." }),
    modelVersion: t.string({ description: "Model version of the judged interaction." }),
    interactionId: t.id({ description: "Only feedback touching this interaction." }),
    kinds: t.field({ type: [FeedbackKindEnum], description: "Feedback kinds." }),
    keys: t.stringList({ description: "Feedback keys." }),
    sentiments: t.field({ type: [SentimentEnum], description: "Derived sentiments." }),
    sources: t.field({ type: [FeedbackSourceEnum], description: "Sources." }),
    annotatorId: t.string({ description: "Annotator, judge model or rule id." }),
    sessionId: t.string({ description: "Session id of the judged interaction." }),
    userId: t.string({ description: "Pseudonymous id of the rater." }),
    ratingMin: t.float({ description: "Ratings with at least this score (ratings only)." }),
    ratingMax: t.float({ description: "Ratings with at most this score (ratings only)." }),
    categories: t.field({ type: [FailureCategoryEnum], description: "Failure categories." }),
    flagCategories: t.field({
      type: [FlagCategoryEnum],
      description: "Flag categories (flags only).",
    }),
    hasCorrection: t.boolean({
      description: "Only corrections (true), or everything but corrections (false).",
    }),
    flagged: t.boolean({ description: "Only flags (true), or everything but flags (false)." }),
    search: t.string({
      description:
        "Words in the feedback's text (comment, correction, reasons) or in its interaction's query and response.",
    }),
    includeSuperseded: t.boolean({
      description:
        "Also return feedback replaced by a later opinion of the same rater (default false).",
    }),
  }),
});
