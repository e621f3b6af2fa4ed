import { BODY_LIMITS, bodyLimitNote, formatBytes } from "../body-limits.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import type { RecordInteractionInput as ServiceInput } from "../feedback/inputs.js";
import type { InteractionDoc } from "../feedback/model.js";
import type { FeedbackTokens } from "../feedback/tokens.js";
import { builder } from "../schema/builder.js";
import { countedConnection, localId, toConnection, withoutNulls } from "../schema/common.js";
import {
  InteractionFilterInput,
  InteractionRef,
  RecordInteractionInput,
} from "../schema/interaction.js";
import {
  FeedbackTokenPayload,
  RecordInteractionPayload,
  RecordInteractionsPayload,
} from "../schema/payloads.js";

const RecordInteractionResult = builder.errorUnion("RecordInteractionResult", {
  description: "The stored interaction, or why nothing was stored.",
  types: [RecordInteractionPayload, ValidationError, ConflictError, ForbiddenError],
});

const RecordInteractionItemResult = builder.errorUnion("RecordInteractionItemResult", {
  description: "One item of a batch: stored, or why that item was not stored.",
  types: [RecordInteractionPayload, ValidationError, ConflictError],
});

builder.objectType(RecordInteractionsPayload, {
  name: "RecordInteractionsPayload",
  description: "Per-item results of a batch, in input order, with totals.",
  isTypeOf: (value) => value instanceof RecordInteractionsPayload,
  fields: (t) => ({
    results: t.field({
      type: [RecordInteractionItemResult],
      description: "One result per input item, in the same order.",
      resolve: (payload) => [...payload.results] as never,
    }),
    recorded: t.int({
      description: "Items stored by this call.",
      resolve: (payload) =>
        payload.results.filter(
          (item) => item instanceof RecordInteractionPayload && !item.duplicate,
        ).length,
    }),
    duplicates: t.int({
      description: "Items whose idempotency key was already stored (returned, not stored again).",
      resolve: (payload) =>
        payload.results.filter((item) => item instanceof RecordInteractionPayload && item.duplicate)
          .length,
    }),
    failed: t.int({
      description: "Items refused (see their result for why).",
      resolve: (payload) =>
        payload.results.filter((item) => !(item instanceof RecordInteractionPayload)).length,
    }),
  }),
});

const RecordInteractionsResult = builder.errorUnion("RecordInteractionsResult", {
  description: "The batch's per-item results, or why the whole batch was refused.",
  types: [RecordInteractionsPayload, ValidationError, ForbiddenError],
});

const FeedbackTokenResult = builder.errorUnion("FeedbackTokenResult", {
  description: "A new feedback token, or why none was issued.",
  types: [FeedbackTokenPayload, ValidationError, NotFoundError, ForbiddenError],
});

builder.queryFields((t) => ({
  interaction: t.field({
    type: InteractionRef,
    nullable: true,
    authScopes: { read: true },
    description: "One interaction by id (global ID or database id); null when it does not exist.",
    args: { id: t.arg.id({ required: true, description: "The interaction's id." }) },
    resolve: (_root, args, context) =>
      context.loaders.interaction.load(localId(String(args.id), ["Interaction"], "id")),
  }),
  interactions: t.connection(
    {
      type: InteractionRef,
      authScopes: { read: true },
      description: "Interactions matching a filter, newest first.",
      args: {
        filter: t.arg({ type: InteractionFilterInput, description: "Conditions; all must hold." }),
      },
      resolve: async (_root, args, context) =>
        toConnection(
          await context.services.interactions.list(withoutNulls(args.filter ?? {}), args),
        ),
    },
    countedConnection("InteractionConnection", "interactions", "newest first"),
    { name: "InteractionEdge", description: "One interaction and its cursor." },
  ),
}));

builder.mutationType({
  description: `Writes: interactions, feedback, and administration. Request bodies are limited per operation: ${formatBytes(BODY_LIMITS.batch)} for recordInteractions, ${formatBytes(BODY_LIMITS.interaction)} for recordInteraction, ${formatBytes(BODY_LIMITS.feedback)} for one feedback, ${formatBytes(BODY_LIMITS.default)} for anything else, ${formatBytes(BODY_LIMITS.anonymous)} without a credential; over the limit the answer is HTTP 413 (PAYLOAD_TOO_LARGE). A body over ${formatBytes(BODY_LIMITS.default)} must send "query" before "variables".`,
});

builder.mutationFields((t) => ({
  recordInteraction: t.field({
    type: RecordInteractionResult,
    authScopes: { ingest: true },
    description: `Stores one model answer with its context. PII is redacted and the user id pseudonymized before anything is stored. With withFeedbackToken, also returns a browser feedback token for it. ${bodyLimitNote("recordInteraction")}`,
    args: {
      input: t.arg({
        type: RecordInteractionInput,
        required: true,
        description: "The interaction.",
      }),
      withFeedbackToken: t.arg.boolean({
        defaultValue: false,
        description:
          "Also issue a short-lived feedback token a browser can use without an API key.",
      }),
    },
    resolve: async (_root, args, context) => {
      const { interaction, duplicate } = await context.services.interactions.record(
        withoutNulls(args.input) as ServiceInput,
      );
      return new RecordInteractionPayload(
        interaction,
        duplicate,
        args.withFeedbackToken ? issueToken(context.services.tokens, interaction) : null,
      );
    },
  }),
  recordInteractions: t.field({
    type: RecordInteractionsResult,
    authScopes: { ingest: true },
    description: `Stores up to 500 interactions in one call. Each item succeeds or fails on its own; results keep the input order. ${bodyLimitNote("recordInteractions")}`,
    args: {
      inputs: t.arg({
        type: [RecordInteractionInput],
        required: true,
        description: "The interactions.",
      }),
      withFeedbackTokens: t.arg.boolean({
        defaultValue: false,
        description: "Also issue a feedback token per item.",
      }),
    },
    resolve: async (_root, args, context) => {
      const results = await context.services.interactions.recordMany(
        args.inputs.map((input) => withoutNulls(input) as ServiceInput),
      );
      return new RecordInteractionsPayload(
        results.map((result) =>
          result.ok
            ? new RecordInteractionPayload(
                result.value.interaction,
                result.value.duplicate,
                args.withFeedbackTokens
                  ? issueToken(context.services.tokens, result.value.interaction)
                  : null,
              )
            : result.error,
        ),
      );
    },
  }),
  createFeedbackToken: t.field({
    type: FeedbackTokenResult,
    authScopes: { ingest: true },
    description: "Issues a browser feedback token for an existing interaction.",
    args: {
      interactionId: t.arg.id({ required: true, description: "The interaction." }),
      ttlSeconds: t.arg.int({
        description: "Lifetime in seconds (60 s to 7 days; default FEEDBACK_TOKEN_TTL_SECONDS).",
      }),
    },
    resolve: async (_root, args, context) => {
      const id = localId(String(args.interactionId), ["Interaction"], "interactionId");
      if (
        args.ttlSeconds !== null &&
        args.ttlSeconds !== undefined &&
        (args.ttlSeconds < 60 || args.ttlSeconds > 604_800)
      ) {
        throw new ValidationError([
          { path: "ttlSeconds", message: "must be between 60 and 604800" },
        ]);
      }
      const interaction = await context.loaders.interaction.load(id);
      if (!interaction) throw new NotFoundError("Interaction", String(args.interactionId));
      return issueToken(context.services.tokens, interaction, args.ttlSeconds ?? undefined);
    },
  }),
}));

function issueToken(
  tokens: FeedbackTokens,
  interaction: Pick<InteractionDoc, "_id" | "userId">,
  ttlSeconds?: number,
): FeedbackTokenPayload {
  const interactionId = interaction._id.toHexString();
  const { token, expiresAt } = tokens.issue({
    interactionId,
    ...(interaction.userId ? { userId: interaction.userId } : {}),
    ...(ttlSeconds ? { ttlSeconds } : {}),
  });
  return new FeedbackTokenPayload(token, expiresAt, interactionId);
}
