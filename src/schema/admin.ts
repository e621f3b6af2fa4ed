import type { Principal } from "../context.js";
import type { ErasureReport } from "../privacy/erasure.js";
import type { ApiKeyDoc, ConflictDoc, FeedbackDoc, FeedbackKeyDoc } from "../store/documents.js";
import { loadAll } from "../store/loaders.js";
import { builder } from "./builder.js";
import { ModelRefType } from "./common.js";
import {
  ConflictDecisionEnum,
  ConflictReasonEnum,
  ConflictStatusEnum,
  ErasureModeEnum,
  FailureCategoryEnum,
  FeedbackKindEnum,
  ScopeEnum,
} from "./enums.js";
import { FeedbackInterface } from "./feedback.js";
import { InteractionRef } from "./interactions.js";

export const ApiKeyType = builder.objectRef<ApiKeyDoc>("ApiKey").implement({
  description: "An API key. Only a hash is stored; the key itself is shown once, at creation.",
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "hash" in value && "scopes" in value,
  fields: (t) => ({
    id: t.string({
      description: "The key's id (for revokeApiKey).",
      resolve: (key) => key._id.toHexString(),
    }),
    name: t.exposeString("name", { description: "What the key is for." }),
    prefix: t.exposeString("prefix", {
      description: "The first characters of the key, to tell keys apart.",
    }),
    scopes: t.field({
      type: [ScopeEnum],
      description: "What the key may do.",
      resolve: (key) => key.scopes,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was created." }),
    createdBy: t.exposeString("createdBy", {
      description: "Id of the key that created it, or `bootstrap`.",
    }),
    lastUsedAt: t.expose("lastUsedAt", {
      type: "DateTime",
      nullable: true,
      description: "Last use, to the minute.",
    }),
    revokedAt: t.expose("revokedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it was revoked.",
    }),
  }),
});

export class CreatedApiKeyPayload {
  constructor(
    readonly apiKey: ApiKeyDoc,
    readonly secret: string,
  ) {}
}

builder.objectType(CreatedApiKeyPayload, {
  isTypeOf: (value) => value instanceof CreatedApiKeyPayload,
  name: "CreatedApiKey",
  description: "A new API key. Copy `secret` now: Loopgate cannot show it again.",
  fields: (t) => ({
    apiKey: t.field({
      type: ApiKeyType,
      description: "The key's record.",
      resolve: (payload) => payload.apiKey,
    }),
    secret: t.exposeString("secret", {
      description: "The key itself; send it as `Authorization: Bearer <secret>`.",
    }),
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
  loadMany: (ids, context) => loadAll(context.loaders.conflict, ids),
  fields: (t) => ({
    interaction: t.field({
      type: InteractionRef,
      nullable: true,
      description: "The answer the raters disagree about.",
      resolve: (conflict, _args, context) =>
        context.loaders.interaction.load(conflict.interactionId.toHexString()),
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
        (
          await loadAll(
            context.loaders.feedback,
            conflict.feedbackIds.map((id) => id.toHexString()),
          )
        ).filter((item): item is FeedbackDoc => item !== null),
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
      context.loaders.conflictOfInteraction.load(interaction._id.toHexString()),
  }),
}));

export const ErasureReportType = builder.objectRef<ErasureReport>("ErasureReport").implement({
  description: "What eraseUser did.",
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "erasedAt" in value && "mode" in value,
  fields: (t) => ({
    userId: t.exposeString("userId", { description: "The pseudonymous id that was erased." }),
    mode: t.field({
      type: ErasureModeEnum,
      description: "DELETE or ANONYMIZE.",
      resolve: (report) => report.mode,
    }),
    interactions: t.exposeInt("interactions", {
      description: "The user's interactions deleted or anonymized.",
    }),
    feedback: t.exposeInt("feedback", {
      description: "Feedback by the user or about the user's interactions, deleted or anonymized.",
    }),
    conflictsUpdated: t.exposeInt("conflictsUpdated", {
      description: "Conflicts deleted or re-evaluated.",
    }),
    erasedAt: t.expose("erasedAt", { type: "DateTime", description: "When." }),
  }),
});

export const ViewerType = builder.objectRef<Principal>("Viewer").implement({
  description: "The credential making this request.",
  fields: (t) => ({
    kind: t.string({
      description: "`anonymous`, `apiKey` or `feedbackToken`.",
      resolve: (principal) => principal.kind,
    }),
    scopes: t.field({
      type: [ScopeEnum],
      description: "Granted scopes.",
      resolve: (principal) => [...principal.scopes],
    }),
    keyName: t.string({
      nullable: true,
      description: "The API key's name.",
      resolve: (principal) => (principal.kind === "apiKey" ? principal.keyName : null),
    }),
    interactionId: t.string({
      nullable: true,
      description: "For a feedback token: the interaction it is bound to.",
      resolve: (principal) => (principal.kind === "feedbackToken" ? principal.interactionId : null),
    }),
  }),
});
