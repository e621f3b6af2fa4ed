import type { FeedbackTokens } from "../auth/feedback-tokens.js";
import { bodyLimitNote } from "../body-limits.js";
import { NotFoundError, ValidationError } from "../errors.js";
import { parseId } from "../ids.js";
import type { RecordInteractionInput as ServiceInput } from "../interactions/inputs.js";
import { builder } from "../schema/builder.js";
import { countedConnection, toConnection, withoutNulls } from "../schema/common.js";
import {
  FeedbackTokenPayload,
  FeedbackTokenResult,
  InteractionFilterInput,
  InteractionRef,
  RecordInteractionInput,
  RecordInteractionPayload,
  RecordInteractionResult,
  RecordInteractionsPayload,
  RecordInteractionsResult,
} from "../schema/interactions.js";
import type { InteractionDoc } from "../store/documents.js";

builder.queryFields((t) => ({
  interaction: t.field({
    type: InteractionRef,
    nullable: true,
    authScopes: { read: true },
    description: "One interaction by id (global ID or database id); null when it does not exist.",
    args: { id: t.arg.id({ required: true, description: "The interaction's id." }) },
    resolve: (_root, args, context) =>
      context.loaders.interaction.load(parseId(String(args.id), ["Interaction"], "id")),
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
    description: `Stores up to 500 interactions in one call. Each item succeeds or fails on its own; results keep the input order, and an item's ValidationError names its fields as \`inputs.<index>.<field>\`. ${bodyLimitNote("recordInteractions")}`,
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
      const id = parseId(String(args.interactionId), ["Interaction"], "interactionId");
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
  const { token, expiresAt } = tokens.issue({
    interactionId: interaction._id,
    ...(interaction.userId ? { userId: interaction.userId } : {}),
    ...(ttlSeconds ? { ttlSeconds } : {}),
  });
  return new FeedbackTokenPayload(token, expiresAt, interaction._id);
}
