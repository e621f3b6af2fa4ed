/** `POST /hooks/labelstudio`: Label Studio's deliveries, authenticated by a header and queued (see webhooks.ts). */
import { createHash } from "node:crypto";
import type { Logger } from "../../observability/logger.js";
import type { LabelStudioAnnotation } from "../labelstudio/client.js";
import { LabelStudioWebhookError, verifyLabelStudioWebhook } from "../labelstudio/webhooks.js";
import type { IntegrationService } from "./service.js";
import {
  type Handler,
  json,
  plainHeaders,
  queue,
  REVIEW_WEBHOOK_MAX_BYTES,
  readBody,
} from "./webhooks.js";

export const LABEL_STUDIO_WEBHOOK_PATH = "/hooks/labelstudio";

export function createLabelStudioWebhook(deps: {
  header: string;
  token: string | undefined;
  integrations: IntegrationService;
  logger: Logger;
}): Handler {
  const log = deps.logger.child({ component: "labelstudio-webhook" });
  return async (request) => {
    if (!deps.token || !deps.integrations.isEnabled("labelstudio"))
      return json(404, {
        error:
          "The Label Studio webhook is off: set LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY and LABEL_STUDIO_WEBHOOK_TOKEN.",
      });
    if (request.method !== "POST") return json(405, { error: "Use POST." });
    const body = await readBody(request);
    if (body === undefined)
      return json(413, { error: `Deliveries are limited to ${REVIEW_WEBHOOK_MAX_BYTES} bytes.` });
    let payload: ReturnType<typeof verifyLabelStudioWebhook>;
    try {
      payload = verifyLabelStudioWebhook(
        { header: deps.header, value: deps.token },
        body,
        plainHeaders(request),
      );
    } catch (error) {
      if (!(error instanceof LabelStudioWebhookError)) throw error;
      log.warn({ reason: error.message }, "label studio webhook refused");
      return json(401, { error: error.message });
    }
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
