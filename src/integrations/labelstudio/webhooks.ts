/**
 * Label Studio does not sign webhook deliveries; the only way to authenticate them is a header
 * we register with the webhook. It is compared in constant time. Deliveries are also neither
 * retried nor ordered, so receivers must tolerate duplicates and backfill by paging.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export type LabelStudioAction =
  | "ANNOTATION_CREATED"
  | "ANNOTATIONS_CREATED"
  | "ANNOTATION_UPDATED"
  | "ANNOTATIONS_DELETED"
  | "TASKS_CREATED"
  | "TASKS_DELETED"
  | "PROJECT_UPDATED";

export interface LabelStudioWebhookPayload {
  action: LabelStudioAction | string;
  [key: string]: unknown;
}

export class LabelStudioWebhookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabelStudioWebhookError";
  }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name.toLowerCase()] ?? headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Checks the shared-secret header, then parses the body. */
export function verifyLabelStudioWebhook(
  expected: { header: string; value: string },
  rawBody: string | Buffer,
  headers: HeaderSource,
): LabelStudioWebhookPayload {
  const given = header(headers, expected.header);
  // Hashing first makes the comparison constant-time regardless of length.
  if (given === undefined || !timingSafeEqual(digest(given), digest(expected.value)))
    throw new LabelStudioWebhookError("Webhook authentication header missing or wrong");
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString());
  } catch {
    throw new LabelStudioWebhookError("Webhook body is not valid JSON");
  }
  if (
    typeof payload !== "object" ||
    payload === null ||
    typeof (payload as { action?: unknown }).action !== "string"
  )
    throw new LabelStudioWebhookError("Webhook body has no action");
  return payload as LabelStudioWebhookPayload;
}
