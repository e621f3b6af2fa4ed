import { z } from "zod";
import {
  chatMessage,
  idempotencyKey,
  identifier,
  jsonObject,
  LONG_TEXT,
  modelRef,
  timestamp,
} from "../validation.js";

/** Stays well below MongoDB's 16 MiB document limit, with room for Loopgate's own fields. */
export const MAX_INTERACTION_TEXT = 4 * 1024 * 1024;

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
