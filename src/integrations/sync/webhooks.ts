/**
 * The inbound webhook routes of the review tools. A delivery is verified (Argilla: Standard
 * Webhooks signature; Label Studio: the shared-secret header it was registered with) and queued
 * as a job keyed by the delivery's identity, so a duplicated delivery joins the queued job instead
 * of a second one; the job's import is idempotent besides. Answering only after the job is stored
 * means a 2xx is never given for a delivery that could be lost; a failure to store answers 503
 * (Argilla retries it; Label Studio does not, and the periodic pull catches up).
 */
import { createHash } from "node:crypto";
import type { Logger } from "../../observability/logger.js";
import { ArgillaWebhookError, verifyArgillaWebhook } from "../argilla/webhooks.js";
import type { LabelStudioAnnotation } from "../labelstudio/client.js";
import { LabelStudioWebhookError, verifyLabelStudioWebhook } from "../labelstudio/webhooks.js";
import type { IntegrationService, WebhookJobPayload } from "./service.js";

export const ARGILLA_WEBHOOK_PATH = "/hooks/argilla";
export const LABEL_STUDIO_WEBHOOK_PATH = "/hooks/labelstudio";
/** Largest delivery accepted: one record or annotation with its task and project. */
export const REVIEW_WEBHOOK_MAX_BYTES = 1024 * 1024;

const json = (status: number, body: unknown) => Response.json(body, { status });

async function readBody(request: Request): Promise<string | undefined> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > REVIEW_WEBHOOK_MAX_BYTES) return undefined;
  const text = await request.text();
  return Buffer.byteLength(text) > REVIEW_WEBHOOK_MAX_BYTES ? undefined : text;
}

/** Lower-cased names: the server's Request may carry a Headers class of its own. */
const plainHeaders = (request: Request): Record<string, string> => {
  const out: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
};

type Handler = (request: Request) => Promise<Response>;

async function queue(
  integrations: IntegrationService,
  logger: Logger,
  payload: WebhookJobPayload,
  key: string,
): Promise<Response> {
  try {
    const { created } = await integrations.enqueueWebhook(payload, key);
    return json(202, { queued: true, duplicate: !created });
  } catch (error) {
    logger.warn({ err: error }, "webhook delivery could not be queued; answered 503");
    return json(503, { error: "Could not store the delivery; try again." });
  }
}

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
