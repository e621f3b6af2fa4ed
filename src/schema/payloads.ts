import type { ConflictDoc, FeedbackDoc, InteractionDoc } from "../store/documents.js";
import { loadAll } from "../store/loaders.js";
import { ConflictRef } from "./admin.js";
import { builder } from "./builder.js";
import { FeedbackInterface, readOrBound } from "./feedback.js";
import { InteractionRef } from "./interactions.js";

export class FeedbackTokenPayload {
  constructor(
    readonly token: string,
    readonly expiresAt: Date,
    readonly interactionId: string,
  ) {}
}

builder.objectType(FeedbackTokenPayload, {
  isTypeOf: (value) => value instanceof FeedbackTokenPayload,
  name: "FeedbackToken",
  description:
    "A short-lived signed credential a browser uses to submit feedback on one interaction, without an API key: send it as `Authorization: Bearer <token>`.",
  fields: (t) => ({
    token: t.exposeString("token", { description: "The token." }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", description: "When it stops working." }),
    interaction: t.field({
      type: InteractionRef,
      nullable: true,
      // createFeedbackToken takes any id: issuing a token must not be a way to read.
      authScopes: (payload) => readOrBound(payload.interactionId),
      description: "The only interaction it accepts feedback for.",
      resolve: (payload, _args, context) => context.loaders.interaction.load(payload.interactionId),
    }),
  }),
});

export class RecordInteractionPayload {
  constructor(
    readonly interaction: InteractionDoc,
    readonly duplicate: boolean,
    readonly feedbackToken: FeedbackTokenPayload | null,
  ) {}
}

builder.objectType(RecordInteractionPayload, {
  isTypeOf: (value) => value instanceof RecordInteractionPayload,
  name: "RecordInteractionPayload",
  description: "The stored interaction.",
  fields: (t) => ({
    interaction: t.field({
      type: InteractionRef,
      description: "The interaction.",
      resolve: (payload) => payload.interaction,
    }),
    duplicate: t.exposeBoolean("duplicate", {
      description:
        "True when the idempotency key was seen before; the earlier interaction is returned.",
    }),
    feedbackToken: t.field({
      type: FeedbackTokenPayload,
      nullable: true,
      description:
        "A browser feedback token for this interaction, when withFeedbackToken was true.",
      resolve: (payload) => payload.feedbackToken,
    }),
  }),
});

/** The outcome of a batch: one result per input, in input order. */
export class RecordInteractionsPayload {
  constructor(readonly results: ReadonlyArray<RecordInteractionPayload | Error>) {}
}

export class SubmitFeedbackPayload {
  constructor(
    readonly feedback: FeedbackDoc,
    readonly duplicate: boolean,
    readonly superseded: readonly string[],
    readonly conflict: ConflictDoc | null,
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
      description: "Earlier feedback of the same rater that this one replaced.",
      resolve: async (payload, _args, context) =>
        (await loadAll(context.loaders.feedback, payload.superseded)).filter(
          (item): item is FeedbackDoc => item !== null,
        ),
    }),
    conflict: t.field({
      type: ConflictRef,
      nullable: true,
      // Conflicts describe other raters' judgements and who resolved them.
      authScopes: { read: true },
      description: "The open disagreement this feedback created or joined, if any.",
      resolve: (payload) => payload.conflict,
    }),
  }),
});
