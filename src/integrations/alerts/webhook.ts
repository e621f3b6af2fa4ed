import { createHash, timingSafeEqual } from "node:crypto";
import type { Logger } from "../../observability/logger.js";
import type { AlertIntakeService } from "./intake.js";
import { parseAlertNotification } from "./payload.js";

export const ALERT_WEBHOOK_PATH = "/hooks/alerts";
/** Largest notification body accepted (Alertmanager groups can be large; 1,000 alerts fit). */
export const ALERT_WEBHOOK_MAX_BYTES = 1024 * 1024;

export interface AlertWebhookDeps {
  /** Bearer token senders must present; undefined turns the webhook off. */
  readonly token: string | undefined;
  readonly intake: AlertIntakeService;
  readonly logger: Logger;
  readonly maxBytes?: number;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers });

/** Digests have equal length, so timingSafeEqual applies whatever the presented length. */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

class TooLarge extends Error {}

/** Reads at most `limit` bytes; a longer body is refused without buffering the rest. */
async function readLimited(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw new TooLarge();
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new TooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * `POST /hooks/alerts`: Alertmanager (webhook version 4) and Grafana (unified alerting) notifications.
 * 2xx when stored; 4xx (not retried by Alertmanager) when the request can never succeed, with
 * nothing stored; 503 (retried) when the database failed — storing is idempotent, so retries are safe.
 */
export function createAlertWebhook(
  deps: AlertWebhookDeps,
): (request: Request) => Promise<Response> {
  const { token, intake, logger } = deps;
  const maxBytes = deps.maxBytes ?? ALERT_WEBHOOK_MAX_BYTES;
  const log = logger.child({ component: "alert-webhook" });
  return async (request) => {
    if (!token) {
      return json(404, {
        error: "The alert webhook is off: set ALERT_WEBHOOK_TOKEN to turn it on.",
      });
    }
    if (request.method !== "POST") {
      return json(405, { error: "Use POST." }, { allow: "POST" });
    }
    const authorization = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match || !sameSecret(match[1]!, token)) {
      log.warn({ presented: match ? "wrong token" : "no bearer token" }, "alert webhook refused");
      return json(
        401,
        {
          error: "A valid bearer token is required (Authorization: Bearer <ALERT_WEBHOOK_TOKEN>).",
        },
        { "www-authenticate": "Bearer" },
      );
    }
    const type = request.headers.get("content-type") ?? "";
    if (!/^application\/json\b/i.test(type)) {
      return json(415, { error: "Send the notification as application/json." });
    }
    let text: string;
    try {
      text = await readLimited(request, maxBytes);
    } catch (error) {
      if (error instanceof TooLarge) {
        return json(413, { error: `The notification is larger than ${maxBytes} bytes.` });
      }
      throw error;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return json(400, { error: "The body is not valid JSON." });
    }
    const parsed = parseAlertNotification(body);
    if (!parsed.ok) {
      log.warn({ problems: parsed.problems.slice(0, 20) }, "alert notification refused");
      return json(400, { error: "The notification is malformed.", problems: parsed.problems });
    }
    try {
      const result = await intake.receive(parsed.notification);
      log.info(
        { source: parsed.notification.source, receiver: parsed.notification.receiver, ...result },
        "alert notification stored",
      );
      return json(200, { status: "stored", ...result });
    } catch (error) {
      log.error({ err: error }, "alert notification could not be stored");
      return json(503, { error: "The notification could not be stored; retry later." });
    }
  };
}
