import { ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import type { ConflictDoc, FeedbackDoc } from "../store/documents.js";
import { loadAll, loadByHex } from "../store/loaders.js";
import { builder } from "./builder.js";
import { enumOf, ModelRefType } from "./common.js";
import { FeedbackInterface, SubmitFeedbackPayload } from "./feedback.js";
import { InteractionRef } from "./interactions.js";

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

const ConflictResolutionType = builder
  .objectRef<NonNullable<ConflictDoc["resolution"]>>("ConflictResolution")
  .implement({
    description: "How and by whom a conflict was settled.",
    fields: (t) => ({
      decision: t.field({
        type: ConflictDecisionEnum,
        description: "The decision.",
        resolve: (r) => r.decision,
      }),
      note: t.exposeString("note", { nullable: true, description: "Why." }),
      resolvedBy: t.exposeString("resolvedBy", {
        description: "Name of the API key that decided, or `loopgate`.",
      }),
      resolvedAt: t.expose("resolvedAt", { type: "DateTime", description: "When." }),
    }),
  });

export const ConflictRef = builder.objectRef<ConflictDoc>("Conflict");

builder.node(ConflictRef, {
  description:
    'Disagreeing feedback on one answer (the seed\'s "same query, different ratings"): different raters judged it in opposite directions or far apart.',
  id: { resolve: (conflict) => conflict._id.toHexString() },
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "reasons" in value && "raterCount" in value,
  loadMany: (ids, context) => loadByHex(context.loaders.conflict, ids),
  fields: (t) => ({
    interaction: t.field({
      type: InteractionRef,
      nullable: true,
      description: "The answer the raters disagree about.",
      resolve: (conflict, _args, context) =>
        context.loaders.interaction.load(conflict.interactionId),
    }),
    model: t.field({
      type: ModelRefType,
      nullable: true,
      description: "Its model.",
      resolve: (c) => c.model ?? null,
    }),
    status: t.field({
      type: ConflictStatusEnum,
      description: "OPEN or RESOLVED.",
      resolve: (c) => c.status,
    }),
    reasons: t.field({
      type: [ConflictReasonEnum],
      description: "Why it is a conflict.",
      resolve: (c) => c.reasons,
    }),
    feedback: t.field({
      type: [FeedbackInterface],
      authScopes: { read: true },
      description: "The disagreeing feedback.",
      resolve: async (conflict, _args, context) =>
        (await loadAll(context.loaders.feedback, conflict.feedbackIds)).filter(
          (item): item is FeedbackDoc => item !== null,
        ),
    }),
    raterCount: t.exposeInt("raterCount", { description: "Distinct raters involved." }),
    positive: t.exposeInt("positive", { description: "Positive judgements involved." }),
    negative: t.exposeInt("negative", { description: "Negative judgements involved." }),
    detectedAt: t.expose("detectedAt", { type: "DateTime", description: "When first detected." }),
    updatedAt: t.expose("updatedAt", { type: "DateTime", description: "When last changed." }),
    resolution: t.field({
      type: ConflictResolutionType,
      nullable: true,
      description: "The latest decision (kept when new feedback reopens the conflict).",
      resolve: (conflict) => conflict.resolution ?? null,
    }),
  }),
});

builder.objectFields(InteractionRef, (t) => ({
  conflict: t.field({
    type: ConflictRef,
    nullable: true,
    // Walking from a write's payload must not reveal other raters' feedback without read access.
    authScopes: { read: true },
    description: "The disagreement recorded on this answer, open or resolved.",
    resolve: (interaction, _args, context) =>
      context.loaders.conflictOfInteraction.load(interaction._id),
  }),
}));

export const ResolveConflictResult = builder.errorUnion("ResolveConflictResult", {
  description: "The resolved conflict, or why it was not resolved.",
  types: [ConflictRef, ValidationError, NotFoundError, ForbiddenError],
});

builder.objectFields(SubmitFeedbackPayload, (t) => ({
  conflict: t.field({
    type: ConflictRef,
    nullable: true,
    // Conflicts describe other raters' judgements and who resolved them.
    authScopes: { read: true },
    description: "The open disagreement this feedback created or joined, if any.",
    resolve: (payload) => payload.conflict(),
  }),
}));
