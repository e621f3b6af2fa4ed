import type { Scope } from "../context.js";
import { ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import type { FeedbackKeyInput } from "../feedback/inputs.js";
import {
  ApiKeyType,
  ConflictRef,
  CreatedApiKeyPayload,
  ErasureReportType,
  FeedbackKeyConfigType,
  ViewerType,
} from "../schema/admin.js";
import { builder } from "../schema/builder.js";
import { countedConnection, localId, toConnection, withoutNulls } from "../schema/common.js";
import {
  ConflictDecisionEnum,
  ConflictStatusEnum,
  ErasureModeEnum,
  FailureCategoryEnum,
  FeedbackKindEnum,
  ScopeEnum,
} from "../schema/enums.js";

const actorName = (principal: { kind: string; keyName?: string; keyId?: string }) =>
  principal.kind === "apiKey" ? `${principal.keyName} (${principal.keyId})` : principal.kind;

const DefineFeedbackKeyResult = builder.errorUnion("DefineFeedbackKeyResult", {
  description: "The saved key config, or why it was rejected.",
  types: [FeedbackKeyConfigType, ValidationError, ForbiddenError],
});
const DeleteFeedbackKeyResult = builder.errorUnion("DeleteFeedbackKeyResult", {
  description: "The removed key config, or why nothing was removed.",
  types: [FeedbackKeyConfigType, ValidationError, NotFoundError, ForbiddenError],
});
const ResolveConflictResult = builder.errorUnion("ResolveConflictResult", {
  description: "The resolved conflict, or why it was not resolved.",
  types: [ConflictRef, ValidationError, NotFoundError, ForbiddenError],
});
const CreateApiKeyResult = builder.errorUnion("CreateApiKeyResult", {
  description: "The new key (shown once), or why none was created.",
  types: [CreatedApiKeyPayload, ValidationError, ForbiddenError],
});
const RevokeApiKeyResult = builder.errorUnion("RevokeApiKeyResult", {
  description: "The revoked key, or why nothing was revoked.",
  types: [ApiKeyType, NotFoundError, ForbiddenError],
});
const EraseUserResult = builder.errorUnion("EraseUserResult", {
  description: "What was erased, or why nothing was.",
  types: [ErasureReportType, ValidationError, ForbiddenError],
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

const FeedbackKeyInputType = builder.inputType("FeedbackKeyInput", {
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

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerType,
    description: "Who you are to Loopgate: the credential of this request and its scopes.",
    resolve: (_root, _args, context) => context.principal,
  }),
  feedbackKeys: t.field({
    type: [FeedbackKeyConfigType],
    authScopes: { $any: { read: true, ingest: true } },
    description: "Every declared feedback key, by name.",
    resolve: (_root, _args, context) => context.services.keys.list(),
  }),
  conflict: t.field({
    type: ConflictRef,
    nullable: true,
    authScopes: { read: true },
    description: "One conflict by id (global ID or database id).",
    args: { id: t.arg.id({ required: true, description: "The conflict's id." }) },
    resolve: (_root, args, context) =>
      context.loaders.conflict.load(localId(String(args.id), ["Conflict"], "id")),
  }),
  conflicts: t.connection(
    {
      type: ConflictRef,
      authScopes: { read: true },
      description: "Disagreements between raters, most recently detected first.",
      args: {
        status: t.arg({
          type: ConflictStatusEnum,
          description: "Only OPEN or only RESOLVED conflicts.",
        }),
        modelId: t.arg.string({ description: "Only conflicts about this model's answers." }),
      },
      resolve: async (_root, args, context) =>
        toConnection(
          await context.services.conflicts.list(
            { status: args.status ?? null, modelId: args.modelId ?? null },
            args,
          ),
        ),
    },
    countedConnection("ConflictConnection", "conflicts", "most recently detected first"),
    { name: "ConflictEdge", description: "One conflict and its cursor." },
  ),
  apiKeys: t.field({
    type: [ApiKeyType],
    authScopes: { admin: true },
    description: "Every API key, newest first (hashes only; keys cannot be shown again).",
    resolve: (_root, _args, context) => context.services.apiKeys.list(),
  }),
}));

builder.mutationFields((t) => ({
  defineFeedbackKey: t.field({
    type: DefineFeedbackKeyResult,
    authScopes: { admin: true },
    description:
      "Declares or redefines a feedback key; later feedback on it is validated against the config.",
    args: {
      input: t.arg({
        type: FeedbackKeyInputType,
        required: true,
        description: "The key's config.",
      }),
    },
    resolve: (_root, args, context) =>
      context.services.keys.define(withoutNulls(args.input) as FeedbackKeyInput),
  }),
  deleteFeedbackKey: t.field({
    type: DeleteFeedbackKeyResult,
    authScopes: { admin: true },
    description:
      "Removes a key's config; stored feedback keeps the key, new feedback is no longer checked.",
    args: { key: t.arg.string({ required: true, description: "The key name." }) },
    resolve: (_root, args, context) => context.services.keys.remove(args.key),
  }),
  resolveConflict: t.field({
    type: ResolveConflictResult,
    authScopes: { admin: true },
    description:
      "Settles a disagreement; the decision guides which judgements become training data.",
    args: {
      id: t.arg.id({ required: true, description: "The conflict." }),
      decision: t.arg({ type: ConflictDecisionEnum, required: true, description: "The decision." }),
      note: t.arg.string({ description: "Why." }),
    },
    resolve: (_root, args, context) =>
      context.services.conflicts.resolve(
        localId(String(args.id), ["Conflict"], "id"),
        { decision: args.decision, note: args.note ?? null },
        actorName(context.principal as never),
      ),
  }),
  createApiKey: t.field({
    type: CreateApiKeyResult,
    authScopes: { admin: true },
    description:
      "Creates an API key with the given scopes. The key is returned once; store it in a secret manager.",
    args: {
      name: t.arg.string({
        required: true,
        description: "What the key is for, e.g. `web-frontend`.",
      }),
      scopes: t.arg({ type: [ScopeEnum], required: true, description: "What it may do." }),
    },
    resolve: async (_root, args, context) => {
      const { apiKey, secret } = await context.services.apiKeys.create(
        { name: args.name, scopes: args.scopes as Scope[] },
        context.principal.kind === "apiKey" ? context.principal.keyId : context.principal.kind,
      );
      return new CreatedApiKeyPayload(apiKey, secret);
    },
  }),
  revokeApiKey: t.field({
    type: RevokeApiKeyResult,
    authScopes: { admin: true },
    description: "Revokes an API key at once; requests with it fail from then on.",
    args: { id: t.arg.string({ required: true, description: "The key's id (ApiKey.id)." }) },
    resolve: (_root, args, context) =>
      context.services.apiKeys.revoke(args.id, actorName(context.principal as never)),
  }),
  eraseUser: t.field({
    type: EraseUserResult,
    authScopes: { admin: true },
    description:
      "Erases everything of one user (the seed: MUST respect user privacy) and reports what it did. Safe to repeat.",
    args: {
      userId: t.arg.string({
        required: true,
        description: "The product's user id, as sent in recordInteraction.",
      }),
      mode: t.arg({
        type: ErasureModeEnum,
        defaultValue: "delete",
        description: "DELETE or ANONYMIZE.",
      }),
    },
    resolve: (_root, args, context) =>
      context.services.erasure.eraseUser(
        { userId: args.userId, mode: args.mode ?? "delete" },
        actorName(context.principal as never),
      ),
  }),
}));
