import type { PayloadHasher } from "../privacy/payload-hash.js";
import type { ClientInfo, FeedbackDoc } from "../store/documents.js";

/** What a request says about its client, raw (never stored as it is). */
export interface RequestClient {
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

const MAX_USER_AGENT = 200;
/** Shorter texts ("good", "wrong") repeat legitimately; only longer ones can be a flood. */
export const MIN_FLOOD_TEXT = 20;

/**
 * The request's client from its headers and socket. `X-Forwarded-For` is only believed when the
 * operator says a trusted proxy sets it; otherwise any client could pick its own address.
 */
export function requestClient(
  headers: Headers,
  remoteAddress: string | undefined,
  trustForwardedFor: boolean,
): RequestClient {
  const forwarded = trustForwardedFor
    ? headers.get("x-forwarded-for")?.split(",")[0]?.trim()
    : undefined;
  const ip = forwarded || remoteAddress || undefined;
  const userAgent = headers.get("user-agent") ?? undefined;
  return { ip, userAgent };
}

/**
 * The stored form: the address only as a keyed fingerprint (bursts compare addresses, nobody
 * needs to read them), the user agent cut short.
 */
export function clientInfo(raw: RequestClient, fingerprint: PayloadHasher): ClientInfo | undefined {
  const info: ClientInfo = {};
  if (raw.ip) info.ip = fingerprint({ clientIp: raw.ip }).slice(0, 22);
  if (raw.userAgent) info.userAgent = raw.userAgent.slice(0, MAX_USER_AGENT);
  return info.ip || info.userAgent ? info : undefined;
}

/** The free text of a feedback, whatever its kind. */
export function feedbackText(
  feedback: Pick<FeedbackDoc, "comment" | "correction" | "flag" | "comparison">,
): string {
  return [
    feedback.comment,
    feedback.correction?.correctedResponse,
    feedback.flag?.reason,
    feedback.comparison?.reason,
  ]
    .filter((part): part is string => typeof part === "string" && part.length > 0)
    .join("\n");
}

/** Lower case, letters and digits only, single spaces: "Great!!  answer" equals "great answer". */
export function normalizeText(text: string): string {
  return text
    .toLowerCase()
    .normalize("NFKC")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

/** A keyed fingerprint of the normalized free text, when it is long enough to count as a flood. */
export function textHashOf(
  feedback: Pick<FeedbackDoc, "comment" | "correction" | "flag" | "comparison">,
  fingerprint: PayloadHasher,
): string | undefined {
  const normalized = normalizeText(feedbackText(feedback));
  return normalized.length >= MIN_FLOOD_TEXT
    ? fingerprint({ text: normalized }).slice(0, 22)
    : undefined;
}
