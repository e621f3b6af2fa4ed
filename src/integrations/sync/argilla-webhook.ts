/** `POST /hooks/argilla`: Argilla's Standard Webhooks deliveries, verified and queued (see webhooks.ts). */

import type { Logger } from "../../observability/logger.js";
import { ArgillaWebhookError, verifyArgillaWebhook } from "../argilla/webhooks.js";
import type { IntegrationService } from "./service.js";
import { acceptDelivery, type Handler, json, queue } from "./webhooks.js";

export const ARGILLA_WEBHOOK_PATH = "/hooks/argilla";

export function createArgillaWebhook(deps: {
  secret: string | undefined;
  integrations: IntegrationService;
  logger: Logger;
}): Handler {
  const log = deps.logger.child({ component: "argilla-webhook" });
  return async (request) => {
    const { secret } = deps;
    const accepted = await acceptDelivery(request, {
      enabled: secret !== undefined && deps.integrations.isEnabled("argilla"),
      off: "The Argilla webhook is off: set ARGILLA_API_URL, ARGILLA_API_KEY and ARGILLA_WEBHOOK_SECRET.",
      verify: (body, headers) => verifyArgillaWebhook(secret!, body, headers),
      refusal: ArgillaWebhookError,
      refused: (message) => `Signature check failed: ${message}`,
      logger: log,
      tool: "argilla",
    });
    if ("response" in accepted) return accepted.response;
    const { delivery } = accepted;
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
