/**
 * The inbound webhook routes of the review tools. A delivery is verified (Argilla: Standard
 * Webhooks signature; Label Studio: the shared-secret header it was registered with) and queued
 * as a job keyed by the delivery's identity, so a duplicated delivery joins the queued job instead
 * of a second one; the job's import is idempotent besides. Answering only after the job is stored
 * means a 2xx is never given for a delivery that could be lost; a failure to store answers 503
 * (Argilla retries it; Label Studio does not, and the periodic pull catches up).
 */
import type { Logger } from "../../observability/logger.js";
import type { IntegrationService, WebhookJobPayload } from "./service.js";

/** Largest delivery accepted: one record or annotation with its task and project. */
export const REVIEW_WEBHOOK_MAX_BYTES = 1024 * 1024;

export const json = (status: number, body: unknown) => Response.json(body, { status });

export async function readBody(request: Request): Promise<string | undefined> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > REVIEW_WEBHOOK_MAX_BYTES) return undefined;
  const text = await request.text();
  return Buffer.byteLength(text) > REVIEW_WEBHOOK_MAX_BYTES ? undefined : text;
}

/** Lower-cased names: the server's Request may carry a Headers class of its own. */
export const plainHeaders = (request: Request): Record<string, string> => {
  const out: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
};

export type Handler = (request: Request) => Promise<Response>;

/**
 * What every review-tool webhook checks before it reads a delivery, in this order: the route is
 * off (404, saying what to set), not a POST (405), over REVIEW_WEBHOOK_MAX_BYTES (413), or not
 * verified (401, logged). Returns the verified delivery, or the answer to give instead.
 */
export async function acceptDelivery<T>(
  request: Request,
  options: {
    /** The 404 text when `enabled` is false. */
    readonly off: string;
    readonly enabled: boolean;
    /** Verifies the body; throws a `refusal` when the delivery is not authentic. */
    readonly verify: (body: string, headers: Record<string, string>) => T;
    readonly refusal: new (...args: never[]) => Error;
    /** The 401 text for a refusal's message. */
    readonly refused: (message: string) => string;
    readonly logger: Logger;
    readonly tool: string;
  },
): Promise<{ delivery: T } | { response: Response }> {
  if (!options.enabled) return { response: json(404, { error: options.off }) };
  if (request.method !== "POST") return { response: json(405, { error: "Use POST." }) };
  const body = await readBody(request);
  if (body === undefined) {
    return {
      response: json(413, {
        error: `Deliveries are limited to ${REVIEW_WEBHOOK_MAX_BYTES} bytes.`,
      }),
    };
  }
  try {
    return { delivery: options.verify(body, plainHeaders(request)) };
  } catch (error) {
    if (!(error instanceof options.refusal)) throw error;
    options.logger.warn({ reason: error.message }, `${options.tool} webhook refused`);
    return { response: json(401, { error: options.refused(error.message) }) };
  }
}

export async function queue(
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
