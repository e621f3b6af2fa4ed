/**
 * Verification of Argilla webhook deliveries. Argilla signs them per Standard Webhooks
 * (headers `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
 * `<id>.<timestamp>.<body>`); the `standardwebhooks` library checks the signature in constant time
 * and refuses timestamps more than 5 minutes from now, so a captured delivery cannot be replayed
 * later. Replays inside that window carry the same `webhook-id`: receivers deduplicate on it.
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { ArgillaWebhookEvent } from "./client.js";

export interface ArgillaWebhookDelivery {
  /** `webhook-id`: stable across Argilla's retries of one event — the deduplication key. */
  messageId: string;
  type: ArgillaWebhookEvent | "ping";
  version: number;
  timestamp: string;
  data: Record<string, unknown>;
}

export class ArgillaWebhookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgillaWebhookError";
  }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Verifies a delivery against the webhook's secret, given the body exactly as received. */
export function verifyArgillaWebhook(
  secret: string,
  rawBody: string | Buffer,
  headers: HeaderSource,
): ArgillaWebhookDelivery {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signature = header(headers, "webhook-signature");
  if (!id || !timestamp || !signature)
    throw new ArgillaWebhookError("Missing Standard Webhooks headers");
  let payload: unknown;
  try {
    payload = new Webhook(secret).verify(rawBody, {
      "webhook-id": id,
      "webhook-timestamp": timestamp,
      "webhook-signature": signature,
    });
  } catch (error) {
    if (error instanceof WebhookVerificationError) throw new ArgillaWebhookError(error.message);
    throw new ArgillaWebhookError("Webhook body is not valid JSON");
  }
  if (
    typeof payload !== "object" ||
    payload === null ||
    typeof (payload as { type?: unknown }).type !== "string"
  )
    throw new ArgillaWebhookError("Webhook body is not an Argilla event");
  const event = payload as Omit<ArgillaWebhookDelivery, "messageId">;
  return {
    messageId: id,
    type: event.type,
    version: event.version,
    timestamp: event.timestamp,
    data: event.data,
  };
}
