import { z } from "zod";
import {
  comparisonChoices,
  failureCategories,
  feedbackKinds,
  feedbackSources,
  flagCategories,
  flagSeverities,
  implicitSignals,
  sentiments,
} from "../store/documents.js";
import {
  idempotencyKey,
  identifier,
  jsonObject,
  LONG_TEXT,
  objectIdInput,
  SHORT_TEXT,
  timestamp,
} from "../validation.js";

export const feedbackKeyName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/,
    "must start with a letter and use at most 64 letters, digits, '_', '.', ':' or '-'",
  );

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

const onInteraction = { interactionId: objectIdInput };

const comparisonSide = z
  .object({ interactionId: objectIdInput.optional(), text: z.string().max(LONG_TEXT).optional() })
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
      if (input.a.interactionId && input.b.interactionId?.equals(input.a.interactionId)) {
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
