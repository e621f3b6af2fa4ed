import type { RedactionCounts } from "./model.js";

export type PiiKind = "email" | "phone" | "card" | "ip";

export interface Redactor {
  /** Replaces PII in one string and counts what it replaced. */
  redact(text: string, counts: RedactionCounts): string;
  /** Redacts every string inside a JSON-like value (metadata, settings), keys included. */
  redactDeep<T>(value: T, counts: RedactionCounts): T;
}

const placeholders: Record<PiiKind, string> = {
  email: "[REDACTED_EMAIL]",
  phone: "[REDACTED_PHONE]",
  card: "[REDACTED_CARD]",
  ip: "[REDACTED_IP]",
};

const emailPattern = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// 13–19 digits, optionally grouped by spaces or dashes; confirmed with the Luhn checksum below so
// order numbers and timestamps are left alone.
const cardPattern = /\b\d(?:[ -]?\d){12,18}\b/g;
const ipv4Pattern =
  /\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b/g;
// Full and "::"-compressed IPv6 forms with at least three groups, so times like 12:30 survive.
const ipv6Pattern =
  /(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![\w:])/g;
// International (+CC …) or grouped national numbers with 7–15 digits in total.
const phonePattern =
  /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?!\w)/g;

function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index--) {
    let digit = digits.charCodeAt(index) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

function digitCount(text: string): number {
  return text.replace(/\D/g, "").length;
}

/**
 * Pattern-based redaction of the PII kinds the seed's privacy rule is most often about. Order
 * matters: emails and card numbers go first so their digits are not mistaken for phone numbers.
 */
export function createRedactor(kinds: readonly PiiKind[]): Redactor {
  const enabled = new Set(kinds);
  const bump = (counts: RedactionCounts, kind: PiiKind) => {
    counts[kind] = (counts[kind] ?? 0) + 1;
  };

  const redact = (text: string, counts: RedactionCounts): string => {
    if (enabled.size === 0 || text.length === 0) return text;
    let out = text;
    if (enabled.has("email")) {
      out = out.replace(emailPattern, () => {
        bump(counts, "email");
        return placeholders.email;
      });
    }
    if (enabled.has("card")) {
      out = out.replace(cardPattern, (match) => {
        const digits = match.replace(/\D/g, "");
        if (!luhnValid(digits)) return match;
        bump(counts, "card");
        return placeholders.card;
      });
    }
    if (enabled.has("ip")) {
      out = out.replace(ipv4Pattern, () => {
        bump(counts, "ip");
        return placeholders.ip;
      });
      out = out.replace(ipv6Pattern, () => {
        bump(counts, "ip");
        return placeholders.ip;
      });
    }
    if (enabled.has("phone")) {
      out = out.replace(phonePattern, (match) => {
        const count = digitCount(match);
        const international = match.trimStart().startsWith("+");
        // Bare digit groups such as dates ("2026-11-26") or versions are not phone numbers.
        if (count < 7 || count > 15) return match;
        if (!international && !/[ .-]/.test(match)) return match;
        if (!international && /^\d{4}-\d{2}-\d{2}$/.test(match)) return match;
        bump(counts, "phone");
        return placeholders.phone;
      });
    }
    return out;
  };

  const redactDeep = <T>(value: T, counts: RedactionCounts): T => {
    if (typeof value === "string") return redact(value, counts) as T;
    if (Array.isArray(value)) return value.map((item) => redactDeep(item, counts)) as T;
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [redact(key, counts), redactDeep(item, counts)]),
      ) as T;
    }
    return value;
  };

  return { redact, redactDeep };
}
