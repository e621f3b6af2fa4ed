import type { ObjectId } from "mongodb";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import { MAX_INTERACTION_TEXT } from "../interactions/inputs.js";
import type { InteractionDoc } from "../store/documents.js";
import { loadByHex } from "../store/loaders.js";
import { LONG_TEXT } from "../validation.js";
import { builder } from "./builder.js";
import {
  ChatMessageType,
  FeedbackSummaryType,
  ModelRefInput,
  ModelRefType,
  READ_ONLY,
  RedactionCountsType,
  TimeRangeInput,
  TokenUsageType,
  TraceRefType,
} from "./common.js";

export const InteractionRef = builder.objectRef<InteractionDoc>("Interaction");

builder.node(InteractionRef, {
  description:
    "One model answer with its full context: the query, the response, the model and its settings, the session and (pseudonymous) user, tracer ids and timings.",
  id: { resolve: (interaction) => interaction._id.toHexString() },
  loadMany: (ids, context) => loadByHex(context.loaders.interaction, ids),
  isTypeOf: (value) =>
    typeof value === "object" &&
    value !== null &&
    "response" in value &&
    "feedbackSummary" in value,
  fields: (t) => ({
    query: t.exposeString("query", {
      description: "The user's query; for chats, the last user message. PII is redacted on ingest.",
    }),
    messages: t.field({
      type: [ChatMessageType],
      nullable: true,
      description: "The chat messages, when the interaction was recorded as a chat.",
      resolve: (interaction) => interaction.messages ?? null,
    }),
    response: t.exposeString("response", { description: "The model's response (PII redacted)." }),
    model: t.field({
      type: ModelRefType,
      description: "The model that answered.",
      resolve: (i) => i.model,
    }),
    settings: t.field({
      type: "JSONObject",
      nullable: true,
      description: "Generation settings (temperature, max tokens, system prompt id, …).",
      resolve: (interaction) => interaction.settings ?? null,
    }),
    sessionId: t.exposeString("sessionId", {
      nullable: true,
      description: "The product's session id.",
    }),
    userId: t.exposeString("userId", {
      nullable: true,
      description:
        "Pseudonymous user id (a keyed hash of the product's user id); filter with this value.",
    }),
    trace: t.field({
      type: TraceRefType,
      nullable: true,
      description: "Ids of the same exchange in LangSmith or another tracer.",
      resolve: (interaction) => interaction.trace ?? null,
    }),
    latencyMs: t.exposeFloat("latencyMs", {
      nullable: true,
      description: "How long the model took, in ms.",
    }),
    tokens: t.field({
      type: TokenUsageType,
      nullable: true,
      description: "Token counts.",
      resolve: (interaction) => interaction.tokens ?? null,
    }),
    metadata: t.field({
      type: "JSONObject",
      nullable: true,
      description: "Free metadata sent by the product (PII redacted).",
      resolve: (interaction) => interaction.metadata ?? null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When the model answered." }),
    recordedAt: t.expose("recordedAt", {
      type: "DateTime",
      description: "When Loopgate stored it.",
    }),
    idempotencyKey: t.exposeString("idempotencyKey", {
      nullable: true,
      description: "The client's idempotency key, if one was sent.",
    }),
    redactions: t.field({
      type: RedactionCountsType,
      nullable: true,
      description: "What PII was replaced on ingest, if any.",
      resolve: (interaction) => interaction.redactions ?? null,
    }),
    feedbackSummary: t.field({
      type: FeedbackSummaryType,
      authScopes: READ_ONLY,
      description: "Digest of the active feedback on this interaction (all raters', so READ only).",
      resolve: (interaction) => interaction.feedbackSummary,
    }),
    erased: t.boolean({
      description: "True when the user's data was erased and only text-free signals remain.",
      resolve: (interaction) => Boolean(interaction.erasedAt),
    }),
  }),
});

export const ChatMessageInput = builder.inputType("ChatMessageInput", {
  description: "One chat message.",
  fields: (t) => ({
    role: t.string({ required: true, description: "`system`, `user`, `assistant`, `tool`, …" }),
    content: t.string({
      required: true,
      description: `The message text, at most ${LONG_TEXT.toLocaleString("en-US")} characters.`,
    }),
    name: t.string({ description: "Optional author name." }),
  }),
});

export const TraceRefInput = builder.inputType("TraceRefInput", {
  description:
    "Ids of the same exchange in an external tracer; LangSmith sync needs runId and projectId.",
  fields: (t) => ({
    provider: t.string({ description: "Tracer name, e.g. `langsmith`." }),
    runId: t.string({ description: "The tracer's run id." }),
    projectId: t.string({ description: "The tracer's project (session) id." }),
    traceId: t.string({ description: "The tracer's trace id." }),
    startTime: t.field({ type: "DateTime", description: "Run start time." }),
  }),
});

export const TokenUsageInput = builder.inputType("TokenUsageInput", {
  description: "Token counts of one model call.",
  fields: (t) => ({
    prompt: t.int({ description: "Prompt tokens." }),
    completion: t.int({ description: "Completion tokens." }),
    total: t.int({ description: "All tokens." }),
  }),
});

export const RecordInteractionInput = builder.inputType("RecordInteractionInput", {
  description: `One model answer and its context. Give \`query\`, or \`messages\` with a user message. Query, response and messages together hold at most ${MAX_INTERACTION_TEXT.toLocaleString("en-US")} characters.`,
  fields: (t) => ({
    query: t.string({
      description: `The user's query (optional when messages are given), at most ${LONG_TEXT.toLocaleString("en-US")} characters.`,
    }),
    messages: t.field({
      type: [ChatMessageInput],
      description: "The chat messages of a chat exchange: at most 500.",
    }),
    response: t.string({
      required: true,
      description: `The model's response, at most ${LONG_TEXT.toLocaleString("en-US")} characters.`,
    }),
    model: t.field({
      type: ModelRefInput,
      required: true,
      description: "The model that answered.",
    }),
    settings: t.field({
      type: "JSONObject",
      description: "Generation settings (≤ 16 KiB of JSON).",
    }),
    sessionId: t.string({ description: "The product's session id." }),
    userId: t.string({
      description:
        "The product's user id; Loopgate stores only a keyed hash of it (pseudonymization).",
    }),
    trace: t.field({ type: TraceRefInput, description: "Ids in LangSmith or another tracer." }),
    latencyMs: t.float({ description: "How long the model took, in ms." }),
    tokens: t.field({ type: TokenUsageInput, description: "Token counts." }),
    metadata: t.field({ type: "JSONObject", description: "Free metadata (≤ 16 KiB of JSON)." }),
    createdAt: t.field({
      type: "DateTime",
      description: "When the model answered; defaults to now.",
    }),
    idempotencyKey: t.string({
      description:
        "Any unique string (a UUID): sending the same key again returns the stored interaction.",
    }),
  }),
});

export const InteractionFilterInput = builder.inputType("InteractionFilter", {
  description: "Narrows interactions; all given conditions must hold.",
  fields: (t) => ({
    createdAt: t.field({ type: TimeRangeInput, description: "When the model answered." }),
    modelId: t.string({ description: "Model id." }),
    modelVersion: t.string({ description: "Model version." }),
    sessionId: t.string({ description: "Session id." }),
    userId: t.string({ description: "Pseudonymous user id, as shown in `Interaction.userId`." }),
    traceRunId: t.string({ description: "The external tracer's run id." }),
    hasCorrection: t.boolean({
      description: "Only corrected (true) or uncorrected (false) answers.",
    }),
    flagged: t.boolean({ description: "Only flagged (true) or unflagged (false) answers." }),
    search: t.string({
      description:
        'Words to find in the query, response or messages (whole words, any of them; "quoted phrase", -excluded).',
    }),
  }),
});

export class FeedbackTokenPayload {
  constructor(
    readonly token: string,
    readonly expiresAt: Date,
    readonly interactionId: ObjectId,
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
      authScopes: READ_ONLY,
      description:
        "The only interaction it accepts feedback for (READ only: issuing a token is not a way to read).",
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

export const RecordInteractionResult = builder.errorUnion("RecordInteractionResult", {
  description: "The stored interaction, or why nothing was stored.",
  types: [RecordInteractionPayload, ValidationError, ConflictError, ForbiddenError],
});

export const RecordInteractionItemResult = builder.errorUnion("RecordInteractionItemResult", {
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

export const RecordInteractionsResult = builder.errorUnion("RecordInteractionsResult", {
  description: "The batch's per-item results, or why the whole batch was refused.",
  types: [RecordInteractionsPayload, ValidationError, ForbiddenError],
});

export const FeedbackTokenResult = builder.errorUnion("FeedbackTokenResult", {
  description: "A new feedback token, or why none was issued.",
  types: [FeedbackTokenPayload, ValidationError, NotFoundError, ForbiddenError],
});
