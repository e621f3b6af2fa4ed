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
