import { createHmac } from "node:crypto";
import type { ObjectId } from "mongodb";
import { createHttpClient, type HttpClient } from "../integrations/http.js";
import type { FeedbackDoc, InteractionDoc, PipelineResult } from "../store/documents.js";

/** The job type that delivers one guardrail event (queued by the pipeline, retried on failure). */
export const GUARDRAIL_JOB = "pipeline.guardrail";
export const SIGNATURE_HEADER = "x-loopgate-signature";
export const EVENT_HEADER = "x-loopgate-event";
export const DELIVERY_HEADER = "x-loopgate-delivery";

/** `sha256=<hex HMAC-SHA256 of the raw body under the shared secret>`. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The JSON body of a guardrail event (README: "Guardrail webhook"). */
export function guardrailEvent(
  feedback: FeedbackDoc,
  interaction: InteractionDoc | null,
  result: Pick<PipelineResult, "category" | "priority"> & { groupKey: string | null },
  sentAt: Date,
) {
  return {
    type: "guardrail",
    id: feedback._id.toHexString(),
    sentAt: sentAt.toISOString(),
    category: result.category,
    priority: result.priority,
    groupKey: result.groupKey,
    feedback: {
      id: feedback._id.toHexString(),
      kind: feedback.kind,
      key: feedback.key,
      source: feedback.source,
      sentiment: feedback.sentiment,
      createdAt: feedback.createdAt.toISOString(),
      comment: feedback.comment ?? null,
      flag: feedback.flag ?? null,
    },
    interaction: interaction
      ? {
          id: interaction._id.toHexString(),
          query: interaction.query,
          response: interaction.response,
          model: interaction.model,
        }
      : null,
  };
}

export interface GuardrailSender {
  /** One delivery attempt; throws when the receiver did not answer 2xx (the job retries). */
  send(feedbackId: ObjectId, event: unknown, signal?: AbortSignal): Promise<void>;
}

export function createGuardrailSender(webhook: { url: string; secret: string }): GuardrailSender {
  const target = new URL(webhook.url);
  // The queue retries with backoff, durably; one attempt per run keeps the two from multiplying.
  const client: HttpClient = createHttpClient({
    integration: "guardrail",
    baseUrl: target.origin,
    timeoutMs: 5_000,
    retry: { maxAttempts: 1 },
  });
  return {
    async send(feedbackId, event, signal) {
      const body = JSON.stringify(event);
      await client.request({
        method: "POST",
        path: `${target.pathname}${target.search}`,
        body,
        headers: {
          "content-type": "application/json",
          [EVENT_HEADER]: "guardrail",
          [DELIVERY_HEADER]: feedbackId.toHexString(),
          [SIGNATURE_HEADER]: signBody(body, webhook.secret),
        },
        idempotent: true,
        ...(signal ? { signal } : {}),
      });
    },
  };
}
