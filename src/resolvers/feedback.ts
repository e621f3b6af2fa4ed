import { actorOf } from "../auth/actor.js";
import { bodyLimitNote } from "../body-limits.js";
import {
  compileFeedbackFilter,
  type FeedbackFilter,
  feedbackEventMatcher,
} from "../feedback/filter.js";
import type { FeedbackSubmission } from "../feedback/ingest.js";
import type { FeedbackKeyInput } from "../feedback/inputs.js";
import { parseId } from "../ids.js";
import { builder } from "../schema/builder.js";
import { countedConnection, toConnection, withoutNulls } from "../schema/common.js";
import {
  DefineFeedbackKeyResult,
  DeleteFeedbackKeyResult,
  FeedbackFilterInput,
  FeedbackInterface,
  FeedbackKeyConfigType,
  FeedbackKeyInputType,
  FeedbackStreamFilterInput,
  feedbackInputTypes,
  feedbackTypeNames,
  SubmitFeedbackPayload,
  SubmitFeedbackResult,
} from "../schema/feedback.js";
import type { FeedbackDoc, FeedbackKind } from "../store/documents.js";

const feedbackTypenames = Object.values(feedbackTypeNames);

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

/** GraphQL ids (global or raw) become ObjectIds before the service sees the input. */
function toSubmission(kind: FeedbackKind, raw: Record<string, unknown>): FeedbackSubmission {
  const input = withoutNulls(raw);
  if (typeof input.interactionId === "string") {
    input.interactionId = parseId(input.interactionId, ["Interaction"], "input.interactionId");
  }
  for (const side of ["a", "b"] as const) {
    const value = input[side] as { interactionId?: string } | undefined;
    if (value?.interactionId) {
      input[side] = {
        ...value,
        interactionId: parseId(value.interactionId, ["Interaction"], `input.${side}.interactionId`),
      };
    }
  }
  // The service validates the input against the kind's zod schema.
  return { kind, input } as FeedbackSubmission;
}

/** Filter arguments arrive with GraphQL ids; services want ObjectIds. */
export function toFeedbackFilter(raw: Record<string, unknown> | null | undefined): FeedbackFilter {
  const filter = withoutNulls(raw ?? {});
  if (typeof filter.interactionId === "string") {
    filter.interactionId = parseId(filter.interactionId, ["Interaction"], "filter.interactionId");
  }
  // The service validates it against the zod filter (feedback/filter.ts).
  return filter as FeedbackFilter;
}

builder.mutationFields((t) =>
  Object.fromEntries(
    (Object.keys(feedbackInputTypes) as FeedbackKind[]).map((kind) => [
      mutationNames[kind],
      t.field({
        type: SubmitFeedbackResult,
        authScopes: { feedbackToken: true },
        description: `${mutationDescriptions[kind]} ${bodyLimitNote(mutationNames[kind])}`,
        args: {
          input: t.arg({
            type: feedbackInputTypes[kind],
            required: true,
            description: "The feedback.",
          }),
        },
        resolve: async (_root, args, context) => {
          const result = await context.services.feedback.submit(
            toSubmission(kind, args.input as Record<string, unknown>),
            actorOf(context.principal),
            context.client,
          );
          return new SubmitFeedbackPayload(
            result.feedback,
            result.duplicate,
            result.supersededIds,
            result.conflict,
          );
        },
      }),
    ]),
  ),
);

builder.queryFields((t) => ({
  feedbackEntry: t.field({
    type: FeedbackInterface,
    nullable: true,
    authScopes: { read: true },
    description: "One feedback item by id (global ID or database id); null when it does not exist.",
    args: { id: t.arg.id({ required: true, description: "The feedback's id." }) },
    resolve: (_root, args, context) =>
      context.loaders.feedback.load(parseId(String(args.id), feedbackTypenames, "id")),
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
  feedbackKeys: t.field({
    type: [FeedbackKeyConfigType],
    authScopes: { $any: { read: true, ingest: true } },
    description: "Every declared feedback key, by name.",
    resolve: (_root, _args, context) => context.services.keys.list(),
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
}));

builder.subscriptionField("feedbackReceived", (t) =>
  t.field({
    type: FeedbackInterface,
    authScopes: { read: true },
    description:
      "Every new feedback item stored by this instance that matches the filter, as it arrives (for live dashboards). A client that stops reading (its socket full for LIVE_FEED_STALL_TIMEOUT_MS, or 1000 events behind) gets a last error with code SLOW_CONSUMER and the stream ends; reconnect and query what was missed.",
    args: {
      filter: t.arg({ type: FeedbackStreamFilterInput, description: "Which feedback to deliver." }),
    },
    subscribe: (_root, args, context) => {
      // Compiled once per subscription into the same query the reads use, then tested per event.
      const matches = feedbackEventMatcher(
        compileFeedbackFilter({
          ...toFeedbackFilter(args.filter),
          // The feed delivers what was stored, including an older opinion a newer one replaced.
          includeSuperseded: true,
        }),
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
                if (next.done || matches(next.value)) return next;
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
