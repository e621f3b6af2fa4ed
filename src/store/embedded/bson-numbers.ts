import { Decimal128, Double, Long } from "bson";
import { bsonTag } from "./bson-tags.js";

/**
 * The four BSON numeric types as held in typed documents:
 *   int32   → JS number (integral, within int32)
 *   double  → JS number, or `Double` when the value is integral within int32 (or -0), because a
 *             plain number there would be written back as int32
 *   int64   → `Long`
 *   decimal → `Decimal128`
 * MongoDB compares them by value across types; this module does so exactly (BigInt-based),
 * which plain JS numbers cannot for int64 beyond 2^53 or 34-digit decimals.
 */

export type NumericKind = "int" | "long" | "double" | "decimal";

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

export function isInt32Range(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX && !Object.is(n, -0);
}

export function isNumeric(value: unknown): boolean {
  if (typeof value === "number" || typeof value === "bigint") return true;
  const tag = bsonTag(value);
  return tag === "Long" || tag === "Double" || tag === "Decimal128" || tag === "Int32";
}

export function numericKind(value: unknown): NumericKind | undefined {
  if (typeof value === "number") return isInt32Range(value) ? "int" : "double";
  if (typeof value === "bigint") return "long";
  switch (bsonTag(value)) {
    case "Int32":
      return "int";
    case "Double":
      return "double";
    case "Long":
      return "long";
    case "Decimal128":
      return "decimal";
    default:
      return undefined;
  }
}

/** Closest JS number (lossy for big int64 and long decimals). */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  switch (bsonTag(value)) {
    case "Int32":
    case "Double":
      return (value as Double).value;
    case "Long":
      return (value as Long).toNumber();
    case "Decimal128":
      return Number((value as Decimal128).toString());
    default:
      return undefined;
  }
}

/** A double as it must be stored so that it serializes as a BSON double. */
export function typedDouble(n: number): number | Double {
  return isInt32Range(n) || Object.is(n, -0) ? new Double(n) : n;
}

/** An exact finite value: coef × 10^exp. */
interface Exact {
  coef: bigint;
  exp: number;
}

type Parsed = Exact | "NaN" | "Inf" | "-Inf";

function parseDecimalString(s: string): Parsed {
  const lower = s.toLowerCase();
  if (lower === "nan" || lower === "-nan") return "NaN";
  if (lower === "infinity" || lower === "inf") return "Inf";
  if (lower === "-infinity" || lower === "-inf") return "-Inf";
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(s);
  if (!m) return "NaN";
  const digits = `${m[2] ?? ""}${m[3] ?? ""}` || "0";
  let coef = BigInt(digits);
  if (m[1] === "-") coef = -coef;
  return { coef, exp: Number(m[4] ?? 0) - (m[3]?.length ?? 0) };
}

function normalize(e: Exact): Exact {
  if (e.coef === 0n) return { coef: 0n, exp: 0 };
  let { coef, exp } = e;
  while (coef % 10n === 0n) {
    coef /= 10n;
    exp++;
  }
  return { coef, exp };
}

export function exactOf(value: unknown): Parsed | undefined {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Inf" : "-Inf";
    if (Number.isSafeInteger(value)) return { coef: BigInt(value), exp: 0 };
    return parseDecimalString(String(value));
  }
  if (typeof value === "bigint") return { coef: value, exp: 0 };
  switch (bsonTag(value)) {
    case "Int32":
    case "Double":
      return exactOf((value as Double).value);
    case "Long":
      return { coef: BigInt((value as Long).toString()), exp: 0 };
    case "Decimal128":
      return parseDecimalString((value as Decimal128).toString());
    default:
      return undefined;
  }
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

function compareExact(a: Exact, b: Exact): number {
  const exp = Math.min(a.exp, b.exp);
  const ca = a.coef * pow10(a.exp - exp);
  const cb = b.coef * pow10(b.exp - exp);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

const specialRank = (p: Parsed): number =>
  p === "NaN" ? 0 : p === "-Inf" ? 1 : p === "Inf" ? 3 : 2;

/** Numeric comparison across BSON numeric types; NaN sorts below every number, as in mongod. */
export function compareNumeric(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
    if (Number.isNaN(b)) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const pa = exactOf(a) ?? "NaN";
  const pb = exactOf(b) ?? "NaN";
  const ra = specialRank(pa);
  const rb = specialRank(pb);
  if (ra !== rb || ra !== 2) return ra < rb ? -1 : ra > rb ? 1 : 0;
  return compareExact(pa as Exact, pb as Exact);
}

/** Canonical text of a numeric value: equal for equal values of any numeric type. */
export function numericKey(value: unknown): string {
  if (typeof value === "number" && Number.isSafeInteger(value))
    return String(value === 0 ? 0 : value);
  const p = exactOf(value) ?? "NaN";
  if (typeof p === "string") return p;
  const { coef, exp } = normalize(p);
  if (exp >= 0 && exp <= 40) return (coef * pow10(exp)).toString();
  return `${coef}e${exp}`;
}

function decimalOf(value: unknown): Decimal128 {
  if (bsonTag(value) === "Decimal128") return value as Decimal128;
  const kind = numericKind(value);
  // mongod converts a double to decimal with 15 significant digits.
  const text =
    kind === "double"
      ? Number(toNumber(value)!.toPrecision(15)).toString()
      : String(exactString(value));
  return decimalFromString(text);
}

function exactString(value: unknown): string {
  const p = exactOf(value);
  if (p === undefined || typeof p === "string") return String(toNumber(value));
  return p.exp >= 0 ? (p.coef * pow10(p.exp)).toString() : `${p.coef}E${p.exp}`;
}

function decimalFromString(text: string): Decimal128 {
  const withRounding = (
    Decimal128 as unknown as { fromStringWithRounding?: (s: string) => Decimal128 }
  ).fromStringWithRounding;
  return withRounding ? withRounding.call(Decimal128, text) : Decimal128.fromString(text);
}

function decimalResult(e: Parsed): Decimal128 {
  if (typeof e === "string")
    return decimalFromString(e === "Inf" ? "Infinity" : e === "-Inf" ? "-Infinity" : "NaN");
  return decimalFromString(`${e.coef}E${e.exp}`);
}

type Op = "add" | "multiply";

function applyExact(op: Op, a: Exact, b: Exact): Exact {
  if (op === "multiply") return { coef: a.coef * b.coef, exp: a.exp + b.exp };
  const exp = Math.min(a.exp, b.exp);
  return { coef: a.coef * pow10(a.exp - exp) + b.coef * pow10(b.exp - exp), exp };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * `a op b` with mongod's type promotion ($inc/$mul): decimal wins, then double, then int64;
 * int32 arithmetic that overflows becomes int64, int64 that overflows becomes double.
 */
export function arithmetic(op: Op, a: unknown, b: unknown): unknown {
  const ka = numericKind(a);
  const kb = numericKind(b);
  if (!ka || !kb) return undefined;
  if (ka === "decimal" || kb === "decimal") {
    const pa = exactOf(decimalOf(a))!;
    const pb = exactOf(decimalOf(b))!;
    if (typeof pa === "string" || typeof pb === "string") {
      const n = op === "add" ? toNumber(a)! + toNumber(b)! : toNumber(a)! * toNumber(b)!;
      return decimalFromString(String(n));
    }
    return decimalResult(applyExact(op, pa, pb));
  }
  if (ka === "double" || kb === "double") {
    const n = op === "add" ? toNumber(a)! + toNumber(b)! : toNumber(a)! * toNumber(b)!;
    return typedDouble(n);
  }
  const x = BigInt(exactString(a));
  const y = BigInt(exactString(b));
  const r = op === "add" ? x + y : x * y;
  if (ka === "long" || kb === "long" || r < BigInt(INT32_MIN) || r > BigInt(INT32_MAX)) {
    if (r < INT64_MIN || r > INT64_MAX) return typedDouble(Number(r));
    return Long.fromBigInt(r);
  }
  return Number(r);
}

/** Makes a JS number take the BSON numeric type `kind` (used to keep types through updates). */
export function asKind(n: number, kind: NumericKind): unknown {
  switch (kind) {
    case "long":
      return Number.isInteger(n) && Math.abs(n) <= 2 ** 63 ? Long.fromNumber(n) : typedDouble(n);
    case "decimal":
      return decimalFromString(String(n));
    case "double":
      return typedDouble(n);
    default:
      return isInt32Range(n) ? n : Number.isInteger(n) ? Long.fromNumber(n) : n;
  }
}
