import type { Document } from "bson";
import { isNumeric, toNumber } from "./bson-numbers.js";
import { isPlainObject } from "./bson-tags.js";
import { CommandError, commandError } from "./errors.js";

/**
 * Per-operation collation (find, count, distinct, aggregate, update, delete, findAndModify),
 * with `Intl.Collator`: locale, strength 1–3, caseLevel, caseFirst, numericOrdering. Only
 * strings compare differently, as in mongod. What Intl cannot express (strength 4/5, French
 * `backwards`, `alternate: "shifted"`) is refused rather than approximated.
 */

export type StringCompare = (a: string, b: string) => number;

const FIELDS = new Set([
  "locale",
  "caseLevel",
  "caseFirst",
  "strength",
  "numericOrdering",
  "alternate",
  "maxVariable",
  "normalization",
  "backwards",
  "version",
]);

function invalid(spec: Document, field: string): CommandError {
  return commandError("BadValue", `Field '${field}' is invalid in: ${JSON.stringify(spec)}`);
}

function unsupported(what: string): CommandError {
  return commandError(
    "CommandNotSupported",
    `collation ${what} is not supported by the embedded store (supported: locale, strength 1-3, caseLevel, caseFirst, numericOrdering)`,
  );
}

const localeCache = new Map<string, boolean>();

function supportedLocale(locale: string): boolean {
  let known = localeCache.get(locale);
  if (known === undefined) {
    try {
      known = Intl.Collator.supportedLocalesOf([locale]).length > 0;
    } catch {
      known = false;
    }
    if (localeCache.size < 1000) localeCache.set(locale, known);
  }
  return known;
}

function boolField(spec: Document, field: string): boolean | undefined {
  const value = spec[field];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") {
    throw commandError(
      "TypeMismatch",
      `BSON field 'collation.${field}' is the wrong type, expected type 'bool'`,
    );
  }
  return value;
}

/**
 * The string comparator of a collation document; undefined for none or `{ locale: "simple" }`
 * (binary comparison). Throws mongod's errors for malformed documents.
 */
export function parseCollation(spec: unknown): StringCompare | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec)) {
    throw commandError(
      "TypeMismatch",
      "BSON field 'collation' is the wrong type, expected type 'object'",
    );
  }
  for (const field of Object.keys(spec)) {
    if (!FIELDS.has(field))
      throw new CommandError(40415, `BSON field 'collation.${field}' is an unknown field.`);
  }
  const locale = spec.locale;
  if (typeof locale !== "string") {
    throw commandError(
      "FailedToParse",
      "BSON field 'collation.locale' is missing but a required field",
    );
  }
  if (locale === "simple") {
    if (Object.keys(spec).length > 1) throw invalid(spec, "locale");
    return undefined;
  }
  const tag = locale.split("@")[0]!.replaceAll("_", "-");
  if (locale.includes("@") || !supportedLocale(tag)) throw invalid(spec, "locale");
  const strength =
    spec.strength === undefined ? 3 : isNumeric(spec.strength) ? toNumber(spec.strength)! : NaN;
  if (!Number.isInteger(strength) || strength < 1 || strength > 5) throw invalid(spec, "strength");
  if (strength > 3) throw unsupported(`strength ${strength}`);
  const caseLevel = boolField(spec, "caseLevel") ?? false;
  const numericOrdering = boolField(spec, "numericOrdering") ?? false;
  if (boolField(spec, "backwards")) throw unsupported("backwards: true");
  boolField(spec, "normalization");
  const caseFirst = spec.caseFirst ?? "off";
  if (!["upper", "lower", "off"].includes(caseFirst)) throw invalid(spec, "caseFirst");
  const alternate = spec.alternate ?? "non-ignorable";
  if (!["non-ignorable", "shifted"].includes(alternate)) throw invalid(spec, "alternate");
  if (alternate === "shifted") throw unsupported('alternate: "shifted"');
  if (spec.maxVariable !== undefined && !["punct", "space"].includes(spec.maxVariable))
    throw invalid(spec, "maxVariable");

  // ICU strength → Intl sensitivity: primary compares base letters, secondary adds accents,
  // tertiary adds case; caseLevel adds case on top of primary (or secondary: Intl has no
  // accent+case-without-tertiary level, so that one pair is refused).
  let sensitivity: Intl.CollatorOptions["sensitivity"];
  if (strength === 1) sensitivity = caseLevel ? "case" : "base";
  else if (strength === 2) {
    if (caseLevel) throw unsupported("caseLevel with strength 2");
    sensitivity = "accent";
  } else sensitivity = "variant";
  const collator = new Intl.Collator(tag, {
    usage: "sort",
    sensitivity,
    numeric: numericOrdering,
    caseFirst: caseFirst === "off" ? "false" : caseFirst,
  });
  return collator.compare;
}
