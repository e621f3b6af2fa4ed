import { ObjectId } from "mongodb";
import { z } from "zod";
import { type FieldProblem, ValidationError } from "./errors.js";
import { hexToObjectId } from "./ids.js";

/**
 * Input shapes of the feedback API, validated in the service layer so that GraphQL, jobs and the
 * CLI share one set of rules. Limits keep single documents far below MongoDB's 16 MiB.
 */
export const LONG_TEXT = 100_000;
export const SHORT_TEXT = 10_000;
export const ID_TEXT = 256;

/**
 * An id in the domain: an ObjectId (as the GraphQL edge passes it, see ids.ts) or, for jobs and
 * the CLI, its 24-hex string. Either way the service sees an ObjectId.
 */
export const objectIdInput = z
  .union([z.instanceof(ObjectId), z.string()])
  .transform((value, ctx): ObjectId => {
    if (value instanceof ObjectId) return value;
    const id = hexToObjectId(value);
    if (id) return id;
    ctx.addIssue({
      code: "custom",
      message: "must be an id returned by Loopgate (24 hexadecimal characters)",
    });
    return z.NEVER;
  });

export const identifier = z.string().trim().min(1, "must not be empty").max(ID_TEXT);

/** Free JSON nests at most this deep: MongoDB refuses documents nested past 100 levels. */
const MAX_JSON_DEPTH = 32;

export const jsonObject = z
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

export const idempotencyKey = z
  .string()
  .min(8, "must be at least 8 characters (use a UUID)")
  .max(128)
  .regex(/^[\w.:-]+$/, "may only use letters, digits, '_', '.', ':' and '-'");

export const timestamp = z
  .date()
  .refine((date) => !Number.isNaN(date.getTime()), "must be a valid date");

export const modelRef = z.object({ id: identifier, version: identifier });

export const chatMessage = z.object({
  role: z.string().trim().min(1).max(64),
  content: z.string().max(LONG_TEXT),
  name: z.string().max(ID_TEXT).optional(),
});

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
