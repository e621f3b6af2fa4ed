import type { Binary, Document, ObjectId, Timestamp } from "bson";
import { Bound, EMPTY_ARRAY_KEY, Rank, typeRank } from "./bson-order.js";
import { bsonTag, isPlainObject } from "./bson-tags.js";
import type { KeyField } from "./index-keys.js";

/**
 * Index keys as bytes whose memcmp order is MongoDB's index order (bson-order.ts), so SQLite's
 * B-tree (BLOB keys compare with memcmp) can hold and range-scan them. Every value encodes as a
 * type byte (ranks spaced by 10, leaving room for bracket bounds) followed by a self-delimiting
 * body, so a compound key is the plain concatenation of its fields and a descending field is
 * its bytes complemented. Numbers of every BSON type encode by exact decimal value (sign,
 * decimal exponent, digits), so 1, 1.0, NumberLong(1) and NumberDecimal("1.00") share a key,
 * as they do in a unique index. Strings compare as UTF-8 bytes (mongod's order).
 */

const TAG_BOUND_MIN = 0x01;
const TAG_BOUND_MAX = 0xfe;
const TAG_EMPTY_ARRAY = Rank.Null * 10 - 2;
const tagOf = (rank: number): number => rank * 10;

const NUM_NAN = 1;
const NUM_NEG_INF = 2;
const NUM_NEG = 3;
const NUM_ZERO = 4;
const NUM_POS = 5;
const NUM_POS_INF = 6;
const EXPONENT_BIAS = 0x8000;

class Writer {
  buf = Buffer.allocUnsafe(64);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  uint32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(n >>> 0, this.len);
    this.len += 4;
  }

  /** A string (UTF-8) terminated by 00 01, with NUL escaped as 00 FF: order-preserving. */
  string(s: string): void {
    const utf8 = Buffer.from(s, "utf8");
    this.ensure(utf8.length * 2 + 2);
    for (let i = 0; i < utf8.length; i++) {
      const b = utf8[i]!;
      this.buf[this.len++] = b;
      if (b === 0) this.buf[this.len++] = 0xff;
    }
    this.buf[this.len++] = 0;
    this.buf[this.len++] = 1;
  }

  complementFrom(start: number): void {
    for (let i = start; i < this.len; i++) this.buf[i] = ~this.buf[i]! & 0xff;
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

type NumberParts =
  | { kind: typeof NUM_NAN | typeof NUM_NEG_INF | typeof NUM_ZERO | typeof NUM_POS_INF }
  | { kind: typeof NUM_NEG | typeof NUM_POS; digits: string; exponent: number };

/** Sign, digits (no leading or trailing zeros) and E of a decimal string: value = 0.digits × 10^E. */
function parseNumberText(text: string): NumberParts {
  const lower = text.toLowerCase();
  if (lower === "nan" || lower === "-nan") return { kind: NUM_NAN };
  if (lower === "infinity" || lower === "inf") return { kind: NUM_POS_INF };
  if (lower === "-infinity" || lower === "-inf") return { kind: NUM_NEG_INF };
  let s = text;
  let negative = false;
  if (s[0] === "-" || s[0] === "+") {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  let exp = 0;
  const e = s.search(/e/i);
  if (e >= 0) {
    exp = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf(".");
  if (dot >= 0) {
    exp -= s.length - dot - 1;
    s = s.slice(0, dot) + s.slice(dot + 1);
  }
  let start = 0;
  while (start < s.length && s[start] === "0") start++;
  let end = s.length;
  while (end > start && s[end - 1] === "0") {
    end--;
    exp++;
  }
  if (start === end) return { kind: NUM_ZERO };
  const digits = s.slice(start, end);
  return { kind: negative ? NUM_NEG : NUM_POS, digits, exponent: exp + digits.length };
}

function numberParts(value: unknown): NumberParts {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { kind: NUM_NAN };
    if (value === Infinity) return { kind: NUM_POS_INF };
    if (value === -Infinity) return { kind: NUM_NEG_INF };
    if (value === 0) return { kind: NUM_ZERO };
    // The shortest round-trip text orders doubles exactly as their values (intervals are disjoint).
    return parseNumberText(String(value));
  }
  if (typeof value === "bigint") return parseNumberText(value.toString());
  switch (bsonTag(value)) {
    case "Int32":
    case "Double":
      return numberParts((value as { value: number }).value);
    default:
      return parseNumberText(String(value));
  }
}

function writeNumber(w: Writer, value: unknown): void {
  const parts = numberParts(value);
  w.byte(parts.kind);
  if (parts.kind !== NUM_POS && parts.kind !== NUM_NEG) return;
  const start = w.len;
  const e = parts.exponent + EXPONENT_BIAS;
  w.byte((e >>> 8) & 0xff);
  w.byte(e & 0xff);
  for (let i = 0; i < parts.digits.length; i++) w.byte(parts.digits.charCodeAt(i) - 47);
  w.byte(0);
  // A larger magnitude is a smaller negative number.
  if (parts.kind === NUM_NEG) w.complementFrom(start);
}

function writeTime(w: Writer, ms: number): void {
  if (Number.isNaN(ms)) {
    w.byte(0);
    return;
  }
  w.byte(1);
  // Safe-integer milliseconds as a biased 64-bit big-endian integer.
  const biased = BigInt(Math.trunc(ms)) + 2n ** 63n;
  w.uint32(Number(biased >> 32n));
  w.uint32(Number(biased & 0xffffffffn));
}

function writeValue(w: Writer, value: unknown): void {
  if (value === EMPTY_ARRAY_KEY) {
    w.byte(TAG_EMPTY_ARRAY);
    return;
  }
  if (value instanceof Bound) {
    if (value === Bound.min) w.byte(TAG_BOUND_MIN);
    else if (value === Bound.max) w.byte(TAG_BOUND_MAX);
    else w.byte(Math.round(value.rank * 10));
    return;
  }
  const rank = typeRank(value);
  w.byte(tagOf(rank));
  switch (rank) {
    case Rank.Null:
    case Rank.MinKey:
    case Rank.MaxKey:
      return;
    case Rank.Number:
      writeNumber(w, value);
      return;
    case Rank.String:
      w.string(String(value));
      return;
    case Rank.Boolean:
      w.byte(value ? 1 : 0);
      return;
    case Rank.Date:
      writeTime(w, (value as Date).getTime());
      return;
    case Rank.ObjectId:
      w.bytes((value as ObjectId).id);
      return;
    case Rank.Binary: {
      const bytes =
        value instanceof Uint8Array
          ? value
          : (value as Binary).buffer.subarray(0, (value as Binary).position);
      w.uint32(bytes.length);
      w.byte(value instanceof Uint8Array ? 0 : (value as Binary).sub_type);
      w.bytes(bytes);
      return;
    }
    case Rank.Timestamp: {
      const ts = value as Timestamp;
      w.uint32(ts.t);
      w.uint32(ts.i);
      return;
    }
    case Rank.RegExp: {
      const [source, flags] =
        value instanceof RegExp
          ? [value.source, value.flags]
          : [(value as { pattern: string }).pattern, (value as { options: string }).options];
      w.string(source);
      w.string(flags);
      return;
    }
    case Rank.Array:
      for (const item of value as unknown[]) writeValue(w, item);
      w.byte(0);
      return;
    case Rank.Object:
      if (isPlainObject(value)) {
        // As bson-order's compareObjects: per field its type, then its name, then its value.
        for (const name of Object.keys(value)) {
          const v = (value as Document)[name];
          w.byte(tagOf(typeRank(v)));
          w.string(name);
          writeValue(w, v);
        }
        w.byte(0);
      } else {
        w.string(String(value));
      }
      return;
    default:
      w.string(String(value));
  }
}

/**
 * One index key (a value per field, possibly Bound sentinels) as bytes in the index's order,
 * honouring each field's direction. Keys and bounds of the same index compare with memcmp.
 */
export function encodeIndexKey(key: readonly unknown[], fields: readonly KeyField[]): Buffer {
  const w = new Writer();
  for (let i = 0; i < fields.length; i++) {
    const start = w.len;
    writeValue(w, key[i]);
    if (fields[i]!.direction === -1) w.complementFrom(start);
  }
  return w.result();
}

/** A single value in ascending order (tests and callers that compare lone values). */
export function encodeValue(value: unknown): Buffer {
  const w = new Writer();
  writeValue(w, value);
  return w.result();
}
