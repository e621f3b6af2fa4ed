import { actorLabel } from "../auth/actor.js";
import type { RequestContext } from "../context.js";
import type {
  ChatMessage,
  FeedbackSummary,
  ModelRef,
  RedactionCounts,
  TokenUsage,
  TraceRef,
} from "../store/documents.js";
import type { Page } from "../store/pagination.js";
import { type BuilderTypes, builder } from "./builder.js";

export const ModelRefType = builder.objectRef<ModelRef>("ModelRef").implement({
  description: "Which model produced an answer.",
  fields: (t) => ({
    id: t.exposeString("id", { description: "Model identifier, e.g. `support-bot`." }),
    version: t.exposeString("version", {
      description: "Model version, e.g. `2026-11-01` or a registry tag.",
    }),
  }),
});

export const ChatMessageType = builder.objectRef<ChatMessage>("ChatMessage").implement({
  description: "One message of a chat exchange.",
  fields: (t) => ({
    role: t.exposeString("role", { description: "`system`, `user`, `assistant`, `tool`, …" }),
    content: t.exposeString("content", { description: "The message text (PII redacted)." }),
    name: t.exposeString("name", {
      nullable: true,
      description: "Optional author name (tools, agents).",
    }),
  }),
});

export const TraceRefType = builder.objectRef<TraceRef>("TraceRef").implement({
  description: "Ids of the same exchange in an external tracer such as LangSmith.",
  fields: (t) => ({
    provider: t.exposeString("provider", {
      nullable: true,
      description: "Tracer name, e.g. `langsmith`.",
    }),
    runId: t.exposeString("runId", { nullable: true, description: "The tracer's run id." }),
    projectId: t.exposeString("projectId", {
      nullable: true,
      description: "The tracer's project or session id (LangSmith requires it for run feedback).",
    }),
    traceId: t.exposeString("traceId", { nullable: true, description: "The tracer's trace id." }),
    startTime: t.expose("startTime", {
      type: "DateTime",
      nullable: true,
      description: "Run start time.",
    }),
  }),
});

export const TokenUsageType = builder.objectRef<TokenUsage>("TokenUsage").implement({
  description: "Token counts of one model call.",
  fields: (t) => ({
    prompt: t.exposeInt("prompt", { nullable: true, description: "Prompt tokens." }),
    completion: t.exposeInt("completion", { nullable: true, description: "Completion tokens." }),
    total: t.exposeInt("total", { nullable: true, description: "All tokens." }),
  }),
});

export const RedactionCountsType = builder.objectRef<RedactionCounts>("RedactionCounts").implement({
  description: "How many pieces of PII were replaced on ingest, per kind.",
  fields: (t) => ({
    email: t.int({ description: "Email addresses.", resolve: (counts) => counts.email ?? 0 }),
    phone: t.int({ description: "Phone numbers.", resolve: (counts) => counts.phone ?? 0 }),
    card: t.int({
      description: "Payment card numbers (Luhn-checked).",
      resolve: (counts) => counts.card ?? 0,
    }),
    ip: t.int({ description: "IPv4 and IPv6 addresses.", resolve: (counts) => counts.ip ?? 0 }),
  }),
});

export const FeedbackSummaryType = builder.objectRef<FeedbackSummary>("FeedbackSummary").implement({
  description: "Digest of an interaction's active feedback, kept current on every write.",
  fields: (t) => ({
    count: t.exposeInt("count", { description: "Active feedback items." }),
    positive: t.exposeInt("positive", { description: "Items with positive sentiment." }),
    negative: t.exposeInt("negative", { description: "Items with negative sentiment." }),
    hasCorrection: t.exposeBoolean("hasCorrection", {
      description: "Whether someone corrected the answer.",
    }),
    flagged: t.exposeBoolean("flagged", { description: "Whether the answer was flagged." }),
    safetyFlagged: t.exposeBoolean("safetyFlagged", {
      description: "Whether it was flagged for safety.",
    }),
  }),
});

export const ModelRefInput = builder.inputType("ModelRefInput", {
  description: "Which model produced an answer.",
  fields: (t) => ({
    id: t.string({ required: true, description: "Model identifier." }),
    version: t.string({ required: true, description: "Model version." }),
  }),
});

export const TimeRangeInput = builder.inputType("TimeRangeInput", {
  description:
    "A half-open time range: from (inclusive) to (exclusive). Either end may be left open.",
  fields: (t) => ({
    from: t.field({ type: "DateTime", description: "Inclusive start." }),
    to: t.field({ type: "DateTime", description: "Exclusive end." }),
  }),
});

/** Drops nulls GraphQL sends for omitted optional fields, so zod sees `undefined`. */
export function withoutNulls<T>(value: T): T {
  if (value === null || value === undefined) return undefined as T;
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (value instanceof Date || typeof value !== "object") return value;
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
    return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== null && item !== undefined)
      // Free JSON (metadata, settings) is the client's data: its nulls are values, kept as sent.
      .map(([key, item]) => [key, jsonScalarFields.has(key) ? item : withoutNulls(item)]),
  ) as T;
}

/** Input fields typed JSONObject, whose contents withoutNulls must not touch. */
const jsonScalarFields = new Set(["metadata", "settings"]);

/**
 * Scopes of a field showing stored data a writer did not send (the judged interaction, what was
 * copied from it, other raters' feedback). Write payloads lead to such fields, and a write's
 * answer shows only what its credential sent and what the write did: an INGEST key or a feedback
 * token must not read an interaction through feedback it submits on it. Mutations selecting such
 * a field without READ are refused before they run (schema/payload-scopes.ts).
 */
export const READ_ONLY = { read: true } as const;

/** Scopes of a rater's own history: readers see all of it, writers what they submitted. */
export const RATER_OR_READ = { read: true, feedbackToken: true } as const;

/** What of `items` the request's credential may see: all with READ, else what it submitted. */
export function visibleToWriter<T extends { submittedBy: string }>(
  context: RequestContext,
  items: readonly T[],
): T[] {
  const { principal } = context;
  if (principal.scopes.has("read")) return [...items];
  if (principal.kind === "anonymous") return [];
  const label = actorLabel(principal);
  return items.filter((item) => item.submittedBy === label);
}

/**
 * GraphQL enums map SCREAMING_CASE names onto the lower-case values stored in MongoDB; each
 * value's description is what analysts read in GraphiQL's docs.
 */
export function enumOf<const Value extends string>(
  name: string,
  description: string,
  values: Record<Value, string>,
) {
  return builder.enumType(name, {
    description,
    values: Object.fromEntries(
      Object.entries<string>(values).map(([value, valueDescription]) => [
        value.toUpperCase(),
        { value: value as Value, description: valueDescription },
      ]),
    ) as Record<string, { value: Value; description: string }>,
  });
}

/** Relay connection result with a lazily computed totalCount. */
export function toConnection<T>(page: Page<T>) {
  return {
    edges: page.nodes.map((node, index) => ({ node, cursor: page.cursors[index] ?? "" })),
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: page.cursors[0] ?? null,
      endCursor: page.cursors.at(-1) ?? null,
    },
    totalCount: page.totalCount,
  };
}

/**
 * Options of a connection type: its name, description and a `totalCount` computed only when a
 * client selects it (see store/pagination.ts).
 */
export function countedConnection(name: string, noun: string, order: string) {
  return {
    name,
    description: `A page of ${noun} (Relay connection), ${order}.`,
    fields: (tc: PothosSchemaTypes.ObjectFieldBuilder<BuilderTypes, object>) => ({
      totalCount: tc.int({
        description: `How many ${noun} match in all (counted only when asked for).`,
        resolve: (connection) => (connection as { totalCount: () => Promise<number> }).totalCount(),
      }),
    }),
  };
}
