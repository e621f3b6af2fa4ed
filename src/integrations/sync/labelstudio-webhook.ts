/** `POST /hooks/labelstudio`: Label Studio's deliveries, authenticated by a header and queued (see webhooks.ts). */
import { createHash } from "node:crypto";
import type { Logger } from "../../observability/logger.js";
import type { LabelStudioAnnotation } from "../labelstudio/client.js";
import { LabelStudioWebhookError, verifyLabelStudioWebhook } from "../labelstudio/webhooks.js";
import type { IntegrationService } from "./service.js";
import { acceptDelivery, type Handler, json, queue } from "./webhooks.js";

export const LABEL_STUDIO_WEBHOOK_PATH = "/hooks/labelstudio";

export function createLabelStudioWebhook(deps: {
  header: string;
  token: string | undefined;
  integrations: IntegrationService;
  logger: Logger;
}): Handler {
  const log = deps.logger.child({ component: "labelstudio-webhook" });
  return async (request) => {
    const { token } = deps;
    const accepted = await acceptDelivery(request, {
      enabled: token !== undefined && deps.integrations.isEnabled("labelstudio"),
      off: "The Label Studio webhook is off: set LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY and LABEL_STUDIO_WEBHOOK_TOKEN.",
      verify: (body, headers) =>
        verifyLabelStudioWebhook({ header: deps.header, value: token! }, body, headers),
      refusal: LabelStudioWebhookError,
      refused: (message) => message,
      logger: log,
      tool: "label studio",
    });
    if ("response" in accepted) return accepted.response;
    const payload = accepted.delivery;
    if (payload.action === "ANNOTATION_CREATED" || payload.action === "ANNOTATION_UPDATED") {
      const annotation = payload.annotation as LabelStudioAnnotation | undefined;
      const task = payload.task as
        | {
            id: number;
            project: number;
            data: Record<string, unknown>;
            meta?: Record<string, unknown>;
          }
        | undefined;
      if (!annotation || !task || typeof annotation.id !== "number")
        return json(400, {
          error: "ANNOTATION_* deliveries need annotation and task (send_payload=true).",
        });
      return queue(
        deps.integrations,
        log,
        {
          integration: "labelstudio",
          event: "annotation",
          annotation,
          task: { id: task.id, project: task.project, data: task.data, meta: task.meta ?? {} },
        },
        `labelstudio:${annotation.id}@${annotation.updated_at}`,
      );
    }
    if (payload.action === "ANNOTATIONS_DELETED") {
      const ids = ((payload.annotations ?? []) as Array<{ id?: unknown }>)
        .map((a) => Number(a.id))
        .filter(Number.isInteger);
      const digest = createHash("sha256").update(ids.join(",")).digest("hex").slice(0, 32);
      return queue(
        deps.integrations,
        log,
        { integration: "labelstudio", event: "deleted", annotationIds: ids },
        `labelstudio:deleted:${digest}`,
      );
    }
    return json(200, { ignored: payload.action });
  };
}
