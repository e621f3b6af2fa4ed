import { BSON, type Document } from "bson";
import { isPlainObject } from "./bson-tags.js";

/**
 * A stored document sent exactly as it is stored: its BSON bytes go into the reply without
 * being decoded and encoded again (for `find` without a projection, the bulk of a large read).
 */
export class RawDocument {
  constructor(readonly bytes: Buffer) {}
}

const cstring = (name: string) => Buffer.from(`${name}\0`, "utf8");

/** `value` as the bytes of one BSON element named `name` (type, name, value). */
function element(name: string, value: unknown): Buffer {
  if (value instanceof RawDocument)
    return Buffer.concat([Buffer.of(0x03), cstring(name), value.bytes]);
  if (Array.isArray(value) && value.some((v) => v instanceof RawDocument)) {
    return Buffer.concat([
      Buffer.of(0x04),
      cstring(name),
      documentOf(value.map((v, i) => element(String(i), v))),
    ]);
  }
  if (isPlainObject(value) && hasRaw(value)) {
    return Buffer.concat([Buffer.of(0x03), cstring(name), encodeBody(value)]);
  }
  const single = BSON.serialize({ [name]: value }, { ignoreUndefined: true });
  // A one-field document minus its length prefix and terminator is exactly the element.
  return Buffer.from(single.buffer, single.byteOffset + 4, single.byteLength - 5);
}

function documentOf(elements: Buffer[]): Buffer {
  const size = 4 + elements.reduce((n, e) => n + e.length, 0) + 1;
  const out = Buffer.allocUnsafe(size);
  out.writeInt32LE(size, 0);
  let at = 4;
  for (const e of elements) {
    e.copy(out, at);
    at += e.length;
  }
  out[at] = 0;
  return out;
}

function hasRaw(value: Document): boolean {
  for (const v of Object.values(value)) {
    if (v instanceof RawDocument) return true;
    if (Array.isArray(v) && v.some((x) => x instanceof RawDocument)) return true;
    if (isPlainObject(v) && hasRaw(v)) return true;
  }
  return false;
}

/** A reply body as BSON; raw documents anywhere in it are copied in as they are. */
export function encodeBody(body: Document): Uint8Array {
  if (!hasRaw(body)) return BSON.serialize(body, { ignoreUndefined: true });
  const elements: Buffer[] = [];
  for (const [name, value] of Object.entries(body)) {
    if (value !== undefined) elements.push(element(name, value));
  }
  return documentOf(elements);
}
