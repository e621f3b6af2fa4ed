/** `POST /hooks/argilla`: Argilla's Standard Webhooks deliveries, verified and queued (see webhooks.ts). */

import type { Logger } from "../../observability/logger.js";
import { ArgillaWebhookError, verifyArgillaWebhook } from "../argilla/webhooks.js";
import type { IntegrationService } from "./service.js";
import {
  type Handler,
  json,
  plainHeaders,
  queue,
  REVIEW_WEBHOOK_MAX_BYTES,
  readBody,
} from "./webhooks.js";

export const ARGILLA_WEBHOOK_PATH = "/hooks/argilla";

export function createArgillaWebhook(deps: {
  secret: string | undefined;
  integrations: IntegrationService;
  logger: Logger;
}): Handler {
  const log = deps.logger.child({ component: "argilla-webhook" });
  return async (request) => {
    if (!deps.secret || !deps.integrations.isEnabled("argilla"))
      return json(404, {
        error:
          "The Argilla webhook is off: set ARGILLA_API_URL, ARGILLA_API_KEY and ARGILLA_WEBHOOK_SECRET.",
      });
    if (request.method !== "POST") return json(405, { error: "Use POST." });
    const body = await readBody(request);
    if (body === undefined)
      return json(413, { error: `Deliveries are limited to ${REVIEW_WEBHOOK_MAX_BYTES} bytes.` });
    let delivery: ReturnType<typeof verifyArgillaWebhook>;
    try {
      delivery = verifyArgillaWebhook(deps.secret, body, plainHeaders(request));
    } catch (error) {
      if (!(error instanceof ArgillaWebhookError)) throw error;
      log.warn({ reason: error.message }, "argilla webhook refused");
      return json(401, { error: `Signature check failed: ${error.message}` });
    }
    // Argilla's event shapes (webhooks/v1/schemas.py): response.* carries its record and user.
    const data = delivery.data as {
      id?: unknown;
      status?: unknown;
      values?: Record<string, { value: unknown }> | null;
      updated_at?: unknown;
      user?: { id?: unknown };
      record?: {
        external_id?: unknown;
        fields?: Record<string, unknown>;
        dataset?: { name?: unknown };
      };
    };
    if (delivery.type === "response.created" || delivery.type === "response.updated") {
      const record = data.record ?? {};
      return queue(
        deps.integrations,
        log,
        {
          integration: "argilla",
          event: "response",
          delivered: {
            datasetName: String(record.dataset?.name ?? ""),
            externalId: typeof record.external_id === "string" ? record.external_id : null,
            fields: record.fields ?? {},
            response: {
              id: String(data.id),
              user_id: String(data.user?.id ?? ""),
              status: String(data.status),
              values: data.values ?? null,
              updated_at: String(data.updated_at ?? delivery.timestamp),
            },
          },
        },
        `argilla:${delivery.messageId}`,
      );
    }
    if (delivery.type === "record.completed")
      return queue(
        deps.integrations,
        log,
        { integration: "argilla", event: "record.completed", recordId: String(data.id) },
        `argilla:${delivery.messageId}`,
      );
    // Pings and events Loopgate does not subscribe to are acknowledged and ignored.
    return json(200, { ignored: delivery.type });
  };
}
