import type { RedactionCounts } from "../store/documents.js";

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

// The lookbehind anchors the local part at its start: without it a long run of word characters
// with no "@" (a base64 blob) is retried from every position, which is quadratic.
const emailPattern =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// Runs of 13+ digits, optionally grouped by spaces or dashes; only stretches that pass the Luhn
// checksum are cards (see cardSpans), so order numbers and timestamps are left alone.
const cardPattern = /\b\d(?:[ -]?\d){12,}\b/g;
const ipv4Pattern =
  /\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b/g;
// Full and "::"-compressed IPv6 forms; a single colon never matches, so times like 12:30 survive.
const ipv6Pattern =
  /(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![\w:])/g;
// International (+CC …, E.164 included) or grouped national numbers with 7–15 digits in total.
const phonePattern =
  /(?<![\w+])(?:\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d{1,12}(?:[ .-]\d{1,8}){0,4}|(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4})(?!\w)/g;
// Grouped digits that are dates ("26.11.2026", "2026-11-26 13" of "2026-11-26 13:36") or year
// ranges ("2019-2024"), not phone numbers.
const dateLikePattern =
  /^(?:(?:19|20)\d{2}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./](?:19|20)\d{2})(?: \d{1,2})?$|^(?:19|20)\d{2}-(?:19|20)\d{2}$/;

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

/** Digit-group lengths a card number is written in: 4-4-4-4(-3), Amex 4-6-5, Diners 4-6-4. */
function cardShaped(lengths: readonly number[]): boolean {
  const count = lengths.length;
  if (count === 1) return true;
  if (count === 3 && lengths[0] === 4 && lengths[1] === 6)
    return lengths[2] === 5 || lengths[2] === 4;
  for (let index = 0; index < count - 1; index++) if (lengths[index] !== 4) return false;
  return (lengths[count - 1] ?? 0) <= 4;
}

/**
 * Where the cards are in a run of digit groups: the whole run when it is one (13–19 digits, Luhn),
 * else each leftmost, longest card-shaped stretch of whole groups that passes Luhn, so a card
 * followed by its expiry or CVV ("4111 1111 1111 1111 12/28") is still found.
 */
function cardSpans(run: string): Array<{ start: number; end: number }> {
  const whole = run.replace(/\D/g, "");
  if (whole.length <= 19 && luhnValid(whole)) return [{ start: 0, end: run.length }];
  const groups = [...run.matchAll(/\d+/g)].map((group) => ({
    start: group.index,
    end: group.index + group[0].length,
    digits: group[0],
  }));
  const spans: Array<{ start: number; end: number }> = [];
  for (let first = 0; first < groups.length; ) {
    let digits = "";
    const lengths: number[] = [];
    let found = -1;
    for (let last = first; last < groups.length; last++) {
      const group = groups[last]?.digits ?? "";
      digits += group;
      lengths.push(group.length);
      // Past a single group, every card shape starts with four digits.
      if (digits.length > 19 || (lengths.length > 1 && lengths[0] !== 4)) break;
      if (digits.length >= 13 && cardShaped(lengths) && luhnValid(digits)) found = last;
    }
    if (found < 0) {
      first += 1;
      continue;
    }
    spans.push({ start: groups[first]?.start ?? 0, end: groups[found]?.end ?? 0 });
    first = found + 1;
  }
  return spans;
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
      out = out.replace(cardPattern, (run) => {
        let result = "";
        let position = 0;
        for (const span of cardSpans(run)) {
          bump(counts, "card");
          result += run.slice(position, span.start) + placeholders.card;
          position = span.end;
        }
        return result + run.slice(position);
      });
    }
    if (enabled.has("ip")) {
      out = out.replace(ipv4Pattern, () => {
        bump(counts, "ip");
        return placeholders.ip;
      });
      out = out.replace(ipv6Pattern, (match) => {
        // Real addresses carry digits ("fe80::1"); letter-only pairs are code ("Db::Add").
        if (!/\d/.test(match)) return match;
        bump(counts, "ip");
        return placeholders.ip;
      });
    }
    if (enabled.has("phone")) {
      out = out.replace(phonePattern, (match: string, offset: number, whole: string) => {
        const count = digitCount(match);
        const international = match.trimStart().startsWith("+");
        // Bare digit groups such as dates ("2026-11-26") or versions are not phone numbers.
        if (count < 7 || count > 15) return match;
        if (!international && !/[ .-]/.test(match)) return match;
        if (!international && dateLikePattern.test(match)) return match;
        // The tail of a longer dotted number, e.g. a version such as 120.0.6099.109.
        if (
          /\d\.$/.test(whole.slice(Math.max(0, offset - 2), offset)) ||
          /^\.\d/.test(whole.slice(offset + match.length, offset + match.length + 2))
        )
          return match;
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
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        // Two keys may redact to the same placeholder; number the later ones so no value is lost.
        let safeKey = redact(key, counts);
        for (let suffix = 2; safeKey in out; suffix++) safeKey = `${redact(key, {})}_${suffix}`;
        out[safeKey] = redactDeep(item, counts);
      }
      return out as T;
    }
    return value;
  };

  return { redact, redactDeep };
}
