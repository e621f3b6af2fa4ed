import { ObjectId } from "mongodb";
import { z } from "zod";
import { type FieldProblem, ValidationError } from "../errors.js";
import {
  comparisonChoices,
  failureCategories,
  feedbackKinds,
  feedbackSources,
  flagCategories,
  flagSeverities,
  implicitSignals,
  sentiments,
} from "./model.js";

/**
 * Input shapes of the feedback API, validated in the service layer so that GraphQL, jobs and the
 * CLI share one set of rules. Limits keep single documents far below MongoDB's 16 MiB.
 */
const LONG_TEXT = 100_000;
const SHORT_TEXT = 10_000;
const ID_TEXT = 256;

const objectIdString = z
  .string()
  .refine((value) => ObjectId.isValid(value) && /^[0-9a-fA-F]{24}$/.test(value), {
    message: "must be an id returned by Loopgate (24 hexadecimal characters)",
  });

const identifier = z.string().trim().min(1, "must not be empty").max(ID_TEXT);

/** Free JSON nests at most this deep: MongoDB refuses documents nested past 100 levels. */
const MAX_JSON_DEPTH = 32;

const jsonObject = z
  .record(z.string(), z.unknown())
  .refine((value) => jsonDepth(value) <= MAX_JSON_DEPTH, {
    message: `must not nest deeper than ${MAX_JSON_DEPTH} levels`,
    abort: true,
  })
  .refine((value) => JSON.stringify(value).length <= 16_384, {
    message: "must serialize to at most 16 KiB of JSON",
  })
  .refine(safeKeys, { message: "keys (at any depth) must not start with '$' or contain '.'" })
  .refine((value) => !hasNulKey(value), {
    message: "keys (at any depth) must not contain a NUL character",
  });

/** Iterative: hostile nesting must not overflow the stack before it is refused. */
function jsonDepth(root: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[root, 1]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop() as [unknown, number];
    if (!value || typeof value !== "object" || value instanceof Date) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const item of Object.values(value)) pending.push([item, depth + 1]);
  }
  return deepest;
}

/** A BSON key ends at its first NUL byte: such a key cannot be stored as given. */
function hasNulKey(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (!value || typeof value !== "object" || value instanceof Date) continue;
    for (const [key, item] of Object.entries(value)) {
      if (key.includes("\0")) return true;
      pending.push(item);
    }
  }
  return false;
}

/** MongoDB reads `$` keys as operators and `.` as paths; free JSON must use neither. */
function safeKeys(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(safeKeys);
  if (!value || typeof value !== "object" || value instanceof Date) return true;
  return Object.entries(value).every(
    ([key, item]) => !key.startsWith("$") && !key.includes(".") && safeKeys(item),
  );
}

/** Stays well below MongoDB's 16 MiB document limit, with room for Loopgate's own fields. */
export const MAX_INTERACTION_TEXT = 4 * 1024 * 1024;

export const feedbackKeyName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/,
    "must start with a letter and use at most 64 letters, digits, '_', '.', ':' or '-'",
  );

const idempotencyKey = z
  .string()
  .min(8, "must be at least 8 characters (use a UUID)")
  .max(128)
  .regex(/^[\w.:-]+$/, "may only use letters, digits, '_', '.', ':' and '-'");

const timestamp = z.date().refine((date) => !Number.isNaN(date.getTime()), "must be a valid date");

const modelRef = z.object({ id: identifier, version: identifier });

const chatMessage = z.object({
  role: z.string().trim().min(1).max(64),
  content: z.string().max(LONG_TEXT),
  name: z.string().max(ID_TEXT).optional(),
});

export const recordInteractionInput = z
  .object({
    query: z.string().max(LONG_TEXT).optional(),
    messages: z.array(chatMessage).min(1).max(500).optional(),
    response: z.string().max(LONG_TEXT),
    model: modelRef,
    settings: jsonObject.optional(),
    sessionId: identifier.optional(),
    userId: identifier.optional(),
    trace: z
      .object({
        provider: identifier.optional(),
        runId: identifier.optional(),
        projectId: identifier.optional(),
        traceId: identifier.optional(),
        startTime: timestamp.optional(),
      })
      .optional(),
    latencyMs: z.number().finite().min(0).max(86_400_000).optional(),
    tokens: z
      .object({
        prompt: z.number().int().min(0).optional(),
        completion: z.number().int().min(0).optional(),
        total: z.number().int().min(0).optional(),
      })
      .optional(),
    metadata: jsonObject.optional(),
    createdAt: timestamp.optional(),
    idempotencyKey: idempotencyKey.optional(),
  })
  .superRefine((input, ctx) => {
    const size =
      (input.query?.length ?? 0) +
      input.response.length +
      (input.messages ?? []).reduce((sum, message) => sum + message.content.length, 0);
    if (size > MAX_INTERACTION_TEXT) {
      ctx.addIssue({
        code: "custom",
        path: ["messages"],
        message: `query, response and messages together must stay under ${MAX_INTERACTION_TEXT} characters`,
      });
    }
    if (input.query === undefined && !input.messages?.some((message) => message.role === "user")) {
      ctx.addIssue({
        code: "custom",
        path: ["query"],
        message: "give the query, or chat messages that include a user message",
      });
    }
    if (input.query !== undefined && input.query.trim() === "") {
      ctx.addIssue({ code: "custom", path: ["query"], message: "must not be empty" });
    }
  });
export type RecordInteractionInput = z.input<typeof recordInteractionInput>;

/** Fields every feedback kind shares. */
const feedbackCommon = {
  key: feedbackKeyName.optional(),
  source: z.enum(feedbackSources).default("user"),
  annotatorId: identifier.optional(),
  userId: identifier.optional(),
  comment: z.string().max(SHORT_TEXT).optional(),
  category: z.enum(failureCategories).optional(),
  metadata: jsonObject.optional(),
  createdAt: timestamp.optional(),
  idempotencyKey: idempotencyKey.optional(),
};

const onInteraction = { interactionId: objectIdString };

const comparisonSide = z
  .object({ interactionId: objectIdString.optional(), text: z.string().max(LONG_TEXT).optional() })
  .refine((side) => (side.interactionId === undefined) !== (side.text === undefined), {
    message: "give either interactionId or text",
  });

export const feedbackInputs = {
  binary: z.object({ ...feedbackCommon, ...onInteraction, positive: z.boolean() }),
  rating: z.object({ ...feedbackCommon, ...onInteraction, score: z.number().finite() }),
  correction: z.object({
    ...feedbackCommon,
    ...onInteraction,
    correctedResponse: z.string().trim().min(1, "must not be empty").max(LONG_TEXT),
  }),
  comparison: z
    .object({
      ...feedbackCommon,
      prompt: z.string().trim().min(1).max(LONG_TEXT).optional(),
      a: comparisonSide,
      b: comparisonSide,
      preferred: z.enum(comparisonChoices),
      strength: z.number().min(0).max(1).optional(),
      reason: z.string().max(SHORT_TEXT).optional(),
    })
    .superRefine((input, ctx) => {
      if (!input.a.interactionId && !input.b.interactionId && !input.prompt) {
        ctx.addIssue({
          code: "custom",
          path: ["prompt"],
          message: "is required when neither side references an interaction",
        });
      }
      if (input.a.interactionId && input.a.interactionId === input.b.interactionId) {
        ctx.addIssue({
          code: "custom",
          path: ["b", "interactionId"],
          message: "must differ from side a",
        });
      }
    }),
  comment: z.object({
    ...feedbackCommon,
    ...onInteraction,
    text: z.string().trim().min(1, "must not be empty").max(SHORT_TEXT),
    sentiment: z.enum(sentiments).optional(),
  }),
  implicit: z
    .object({
      ...feedbackCommon,
      ...onInteraction,
      signal: z.enum(implicitSignals),
      value: z.number().finite().min(0).optional(),
    })
    .superRefine((input, ctx) => {
      if (
        (input.signal === "dwell" || input.signal === "session_length") &&
        input.value === undefined
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["value"],
          message: `is required for ${input.signal} (milliseconds for dwell, seconds for session_length)`,
        });
      }
    }),
  flag: z.object({
    ...feedbackCommon,
    ...onInteraction,
    // For flags the category is the flag's own (safety, accuracy, other).
    category: z.enum(flagCategories),
    severity: z.enum(flagSeverities).default("medium"),
    reason: z.string().max(SHORT_TEXT).optional(),
  }),
} as const satisfies Record<(typeof feedbackKinds)[number], z.ZodType>;

export type FeedbackInputs = {
  [Kind in keyof typeof feedbackInputs]: z.input<(typeof feedbackInputs)[Kind]>;
};
export type ParsedFeedbackInputs = {
  [Kind in keyof typeof feedbackInputs]: z.output<(typeof feedbackInputs)[Kind]>;
};

export const feedbackKeyInput = z
  .object({
    key: feedbackKeyName,
    kind: z.enum(feedbackKinds),
    description: z.string().max(2_000).optional(),
    rating: z
      .object({
        min: z.number().finite(),
        max: z.number().finite(),
        integer: z.boolean().default(true),
      })
      .refine((range) => range.max > range.min, {
        message: "max must be greater than min",
        path: ["max"],
      })
      .optional(),
    categories: z.array(z.enum(failureCategories)).max(failureCategories.length).optional(),
    isLowerScoreBetter: z.boolean().default(false),
  })
  .superRefine((input, ctx) => {
    if (input.rating && input.kind !== "rating") {
      ctx.addIssue({
        code: "custom",
        path: ["rating"],
        message: "only applies to keys of kind rating",
      });
    }
  });
export type FeedbackKeyInput = z.input<typeof feedbackKeyInput>;

/** Parses with a zod schema; failures become one ValidationError naming every offending field. */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  pathPrefix = "input",
): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map(
      (issue): FieldProblem => ({
        path: [pathPrefix, ...issue.path.map(String)].filter(Boolean).join("."),
        message: issue.message,
      }),
    ),
  );
}
