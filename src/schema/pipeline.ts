import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import { MAX_CLOSE_NOTE, ROUTED_ITEM_ID_CAP } from "../pipeline/routed-items.js";
import type { FeedbackDoc, PipelineResult, RoutedItemDoc } from "../store/documents.js";
import { loadAll } from "../store/loaders.js";
import { builder } from "./builder.js";
import { enumOf } from "./common.js";
import { FailureCategoryEnum, FeedbackInterface } from "./feedback.js";
import { InteractionRef } from "./interactions.js";

/** Every type of the processing pipeline (src/pipeline/): results on feedback, routed items. */

export const RouteNameEnum = enumOf(
  "RouteName",
  "Where the pipeline's action router sends feedback (the seed's Action Router).",
  {
    fine_tuning: "Frequent accuracy issues: fine-tuning data.",
    guardrail: "Safety concerns: an immediate guardrail event (signed webhook and metric).",
    rag_update: "Knowledge gaps: the RAG index update queue.",
    prompt_backlog: "Format and relevance issues: the prompt and template backlog.",
    product_backlog: "Feature requests: the product backlog.",
    expert_review:
      "Low quality scores, open conflicts, high-severity flags and isolated accuracy reports: human review.",
  },
);

export const RoutedItemStateEnum = enumOf(
  "RoutedItemState",
  "Whether a routed item still needs action.",
  {
    open: "Waiting for its team; new feedback of its group joins it.",
    closed: "Handled; new feedback of its group opens a fresh item.",
  },
);

const FilteredType = builder
  .objectRef<NonNullable<PipelineResult["filtered"]>>("PipelineFiltered")
  .implement({
    description: "Why the spam and bot filter excluded a feedback (it is kept, never dropped).",
    fields: (t) => ({
      reason: t.exposeString("reason", {
        description:
          "One of bot_user_agent, too_fast, user_burst, ip_burst, key_burst, text_flood (README, Processing pipeline).",
      }),
      detail: t.exposeString("detail", {
        nullable: true,
        description:
          "The figures behind it, e.g. `25 feedback from one user within 60 s (limit 20)`.",
      }),
    }),
  });

export const PipelineResultType = builder.objectRef<PipelineResult>("PipelineResult").implement({
  description:
    "What the processing pipeline decided about one feedback: duplicate or not, filtered and why, quality score, category, priority and route.",
  fields: (t) => ({
    version: t.exposeInt("version", {
      description: "Version of the pipeline definition that decided.",
    }),
    processedAt: t.expose("processedAt", {
      type: "DateTime",
      description: "When it was processed.",
    }),
    duplicateOf: t.field({
      type: FeedbackInterface,
      nullable: true,
      description:
        "The original this feedback duplicates; only the original counts. Null for originals.",
      resolve: (result, _args, context) =>
        result.duplicateOf ? context.loaders.feedback.load(result.duplicateOf) : null,
    }),
    filtered: t.field({
      type: FilteredType,
      nullable: true,
      description: "Set when the spam and bot filter excluded it from counts and training data.",
      resolve: (result) => result.filtered ?? null,
    }),
    usable: t.boolean({
      description: "Whether it counts for training data: neither a duplicate nor filtered.",
      resolve: (result) => !result.duplicateOf && !result.filtered,
    }),
    quality: t.exposeFloat("quality", {
      description:
        "Reliability score from 0 to 1: the source's prior, the rater's trust (agreement with consensus) and experience; 0 when filtered.",
    }),
    category: t.field({
      type: FailureCategoryEnum,
      nullable: true,
      description: "The failure category, or null when none applies (e.g. positive feedback).",
      resolve: (result) => result.category,
    }),
    categorizedBy: t.exposeString("categorizedBy", {
      nullable: true,
      description: "What decided the category: `rule:<name>` or `judge:<name>`.",
    }),
    priority: t.exposeFloat("priority", {
      description:
        "Severity of the category (× a flag's severity) × how often its group occurred; 0 when uncategorized.",
    }),
    groupKey: t.exposeString("groupKey", {
      nullable: true,
      description: "Its similar-failure group: the category and a hash of the normalized query.",
    }),
    route: t.field({
      type: RouteNameEnum,
      nullable: true,
      description: "Where the action router sent it; null when it needs no action.",
      resolve: (result) => result.route,
    }),
  }),
});

builder.interfaceFields(FeedbackInterface, (t) => ({
  pipeline: t.field({
    type: PipelineResultType,
    nullable: true,
    // Filtering details describe how spam is recognised; readers only.
    authScopes: { read: true },
    description:
      "The processing pipeline's result (READ scope); null until processed, normally within seconds of the write.",
    resolve: (feedback: FeedbackDoc) => feedback.pipeline ?? null,
  }),
}));

export const RoutedItemRef = builder.objectRef<RoutedItemDoc>("RoutedItem");

builder.node(RoutedItemRef, {
  description:
    "Work the action router handed to a team: similar failures (same route and group) collected in one open item until someone closes it.",
  authScopes: { read: true },
  id: { resolve: (item) => item._id.toHexString() },
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "route" in value && "feedbackCount" in value,
  loadMany: (ids, context) => context.services.pipeline.routedItems.getMany(ids),
  fields: (t) => ({
    route: t.field({
      type: RouteNameEnum,
      description: "Where it was routed.",
      resolve: (i) => i.route,
    }),
    state: t.field({
      type: RoutedItemStateEnum,
      description: "OPEN or CLOSED.",
      resolve: (i) => i.state,
    }),
    groupKey: t.exposeString("groupKey", {
      description: "The similar-failure group; one open item per route and group.",
    }),
    category: t.field({
      type: FailureCategoryEnum,
      nullable: true,
      description: "The failure category of its feedback.",
      resolve: (i) => i.category,
    }),
    priority: t.exposeFloat("priority", { description: "The highest priority of its feedback." }),
    reason: t.exposeString("reason", { description: "Why it was routed, one line." }),
    feedbackCount: t.exposeInt("feedbackCount", { description: "Feedback routed into it in all." }),
    feedback: t.field({
      type: [FeedbackInterface],
      description: `Its newest feedback (at most ${ROUTED_ITEM_ID_CAP}), newest last.`,
      resolve: async (item, _args, context) =>
        (await loadAll(context.loaders.feedback, item.feedbackIds)).filter(
          (f): f is FeedbackDoc => f !== null,
        ),
    }),
    interactions: t.field({
      type: [InteractionRef],
      description: `The answers of its newest feedback (at most ${ROUTED_ITEM_ID_CAP}).`,
      resolve: async (item, _args, context) =>
        (await loadAll(context.loaders.interaction, item.interactionIds)).filter(
          (i): i is NonNullable<typeof i> => i !== null,
        ),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was opened." }),
    updatedAt: t.expose("updatedAt", {
      type: "DateTime",
      description: "When feedback last joined or it was closed.",
    }),
    closedAt: t.expose("closedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it was closed.",
    }),
    closedBy: t.exposeString("closedBy", {
      nullable: true,
      description: "Who closed it (the API key's name and id).",
    }),
    closeNote: t.exposeString("closeNote", {
      nullable: true,
      description: "What was done about it.",
    }),
  }),
});

export const CloseRoutedItemResult = builder.errorUnion("CloseRoutedItemResult", {
  description: `The closed item, or why it was not closed (already closed: ConflictError; a note over ${MAX_CLOSE_NOTE} characters: ValidationError).`,
  types: [RoutedItemRef, ValidationError, NotFoundError, ConflictError, ForbiddenError],
});
