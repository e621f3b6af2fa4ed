import { Double, ObjectId } from "bson";
import { isInt32Range } from "./bson-numbers.js";

/**
 * Keeps only some top-level fields of a BSON document, by copying their elements' bytes into a
 * smaller document without decoding the rest. A scan that feeds a `$group` reading four fields
 * of a document of fifteen then decodes four: decoding is most of a streamed scan's cost.
 */

/** Byte length of an element's value of BSON `type` starting at `at`, or -1 if unknown. */
function valueLength(bytes: Buffer, type: number, at: number): number {
  switch (type) {
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x02: // string
    case 0x0d: // code
    case 0x0e: // symbol
      return 4 + bytes.readInt32LE(at);
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope
      return bytes.readInt32LE(at);
    case 0x05: // binary
      return 5 + bytes.readInt32LE(at);
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // max key
    case 0xff: // min key
      return 0;
    case 0x07: // ObjectId
      return 12;
    case 0x08: // bool
      return 1;
    case 0x0b: {
      // regex: two C strings
      const first = bytes.indexOf(0, at);
      return bytes.indexOf(0, first + 1) + 1 - at;
    }
    case 0x0c: // DBPointer
      return 4 + bytes.readInt32LE(at) + 12;
    case 0x10: // int32
      return 4;
    case 0x13: // decimal128
      return 16;
    default:
      return -1;
  }
}

/**
 * The document with only the top-level fields in `fields` (in their stored order), as BSON.
 * Returns the input unchanged when it cannot walk it (an unknown element type).
 */
export function projectBson(bytes: Buffer, fields: ReadonlySet<string>): Buffer {
  const end = bytes.readInt32LE(0) - 1;
  const kept: [number, number][] = [];
  let size = 5;
  let at = 4;
  while (at < end) {
    const start = at;
    const type = bytes[at]!;
    const nameEnd = bytes.indexOf(0, at + 1);
    const length = valueLength(bytes, type, nameEnd + 1);
    if (length < 0) return bytes;
    at = nameEnd + 1 + length;
    if (fields.has(bytes.toString("utf8", start + 1, nameEnd))) {
      kept.push([start, at]);
      size += at - start;
    }
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt32LE(size, 0);
  let pos = 4;
  for (const [from, to] of kept) pos += bytes.copy(out, pos, from, to);
  out[pos] = 0;
  return out;
}

/** The wanted top-level names as UTF-8 bytes, compiled once per set of fields. */
const compiled = new WeakMap<ReadonlySet<string>, [Buffer, string][]>();

function wantedNames(fields: ReadonlySet<string>): [Buffer, string][] {
  let names = compiled.get(fields);
  if (!names) {
    names = [...fields].map((f) => [Buffer.from(f, "utf8"), f]);
    compiled.set(fields, names);
  }
  return names;
}

function nameIs(bytes: Buffer, from: number, to: number, name: Buffer): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (bytes[from + i] !== name[i]) return false;
  return true;
}

/**
 * The top-level fields in `fields` of a document, decoded straight from its bytes in both the
 * typed and the view form (bson-values.ts), when every one of them is a string, int32, double,
 * bool, date, null or ObjectId; otherwise undefined, and the caller decodes the projected bytes
 * the general way. A streamed `$group` (profiled at 200,000 documents) spent two fifths of its
 * time decoding; this skips the BSON library and the normalising walk for the common case.
 */
export function readScalarFields(
  bytes: Buffer,
  fields: ReadonlySet<string>,
): { typed: Record<string, unknown>; view: Record<string, unknown> } | undefined {
  const names = wantedNames(fields);
  const end = bytes.readInt32LE(0) - 1;
  const view: Record<string, unknown> = {};
  let typed: Record<string, unknown> | undefined;
  let found = 0;
  let at = 4;
  while (at < end && found < names.length) {
    const type = bytes[at]!;
    let nameEnd = at + 1;
    while (bytes[nameEnd] !== 0) nameEnd++;
    const valueAt = nameEnd + 1;
    const length = valueLength(bytes, type, valueAt);
    if (length < 0) return undefined;
    let key: string | undefined;
    for (const [name, field] of names) {
      if (nameIs(bytes, at + 1, nameEnd, name)) {
        key = field;
        break;
      }
    }
    if (key !== undefined) {
      found++;
      let value: unknown;
      switch (type) {
        case 0x01: {
          value = bytes.readDoubleLE(valueAt);
          // A double with an integral value (or -0) stays a Double in the typed form.
          if (isInt32Range(value as number) || Object.is(value, -0)) {
            typed ??= { ...view };
            typed[key] = new Double(value as number);
            view[key] = value;
            at = valueAt + length;
            continue;
          }
          break;
        }
        case 0x02:
          value = bytes.toString("utf8", valueAt + 4, valueAt + length - 1);
          break;
        case 0x08:
          value = bytes[valueAt] === 1;
          break;
        case 0x09:
          value = new Date(
            bytes.readUInt32LE(valueAt) + bytes.readInt32LE(valueAt + 4) * 0x1_0000_0000,
          );
          break;
        case 0x0a:
          value = null;
          break;
        case 0x10:
          value = bytes.readInt32LE(valueAt);
          break;
        case 0x07:
          // bson keeps an ObjectId as numbers, not as a view of these bytes.
          value = new ObjectId(bytes.subarray(valueAt, valueAt + 12));
          break;
        default:
          return undefined;
      }
      view[key] = value;
      if (typed) typed[key] = value;
    }
    at = valueAt + length;
  }
  return { typed: typed ?? view, view };
}
