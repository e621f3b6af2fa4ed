import { BSON, type Document } from "bson";
import { decodeDocument } from "./bson-values.js";
import { crc32c } from "./crc32c.js";
import { encodeBody } from "./raw-doc.js";

export const OpCode = {
  Reply: 1,
  Query: 2004,
  Compressed: 2012,
  Msg: 2013,
} as const;

export const MsgFlags = {
  checksumPresent: 1 << 0,
  moreToCome: 1 << 1,
  exhaustAllowed: 1 << 16,
} as const;

/** Flag bits 0-15 are "required": a receiver must reject bits it does not know. */
const KNOWN_REQUIRED_FLAGS = MsgFlags.checksumPresent | MsgFlags.moreToCome;

const HEADER_SIZE = 16;

export class WireError extends Error {
  override readonly name = "WireError";
}

export interface MessageHeader {
  readonly messageLength: number;
  readonly requestId: number;
  readonly responseTo: number;
  readonly opCode: number;
}

export interface MsgRequest {
  readonly kind: "msg";
  readonly header: MessageHeader;
  readonly flags: number;
  /** The kind-0 body with every kind-1 document sequence merged in as an array field. */
  readonly body: Document;
  readonly moreToCome: boolean;
}

export interface QueryRequest {
  readonly kind: "query";
  readonly header: MessageHeader;
  readonly fullCollectionName: string;
  readonly query: Document;
}

export interface UnsupportedRequest {
  readonly kind: "unsupported";
  readonly header: MessageHeader;
}

export type Request = MsgRequest | QueryRequest | UnsupportedRequest;

export function readHeader(frame: Buffer): MessageHeader {
  return {
    messageLength: frame.readInt32LE(0),
    requestId: frame.readInt32LE(4),
    responseTo: frame.readInt32LE(8),
    opCode: frame.readInt32LE(12),
  };
}

function readCString(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new WireError("unterminated cstring");
  return [buf.toString("utf8", offset, end), end + 1];
}

function readDocument(buf: Buffer, offset: number, limit: number): [Document, number] {
  if (offset + 4 > limit) throw new WireError("truncated BSON document");
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > limit) throw new WireError("invalid BSON document length");
  const doc = decodeDocument(buf.subarray(offset, offset + size));
  return [doc, offset + size];
}

function parseMsg(frame: Buffer, header: MessageHeader): MsgRequest {
  const flags = frame.readUInt32LE(HEADER_SIZE);
  if ((flags & 0xffff & ~KNOWN_REQUIRED_FLAGS) !== 0) {
    throw new WireError(`unrecognized required OP_MSG flag bits: ${flags}`);
  }
  let end = frame.length;
  if (flags & MsgFlags.checksumPresent) {
    end -= 4;
    if (end < HEADER_SIZE + 4) throw new WireError("OP_MSG too short for its checksum");
    const expected = frame.readUInt32LE(end);
    if (crc32c(frame.subarray(0, end)) !== expected) {
      throw new WireError("OP_MSG checksum does not match contents");
    }
  }
  let offset = HEADER_SIZE + 4;
  let body: Document | undefined;
  const sequences: [string, Document[]][] = [];
  while (offset < end) {
    const kind = frame.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      if (body) throw new WireError("OP_MSG has more than one body section");
      [body, offset] = readDocument(frame, offset, end);
    } else if (kind === 1) {
      const size = frame.readInt32LE(offset);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end) throw new WireError("invalid document sequence length");
      let identifier: string;
      [identifier, offset] = readCString(frame, offset + 4);
      const docs: Document[] = [];
      while (offset < sectionEnd) {
        let doc: Document;
        [doc, offset] = readDocument(frame, offset, sectionEnd);
        docs.push(doc);
      }
      sequences.push([identifier, docs]);
    } else {
      throw new WireError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) throw new WireError("OP_MSG has no body section");
  for (const [identifier, docs] of sequences) {
    if (identifier in body) throw new WireError(`duplicate field ${identifier} in OP_MSG`);
    body[identifier] = docs;
  }
  return {
    kind: "msg",
    header,
    flags,
    body,
    moreToCome: (flags & MsgFlags.moreToCome) !== 0,
  };
}

function parseQuery(frame: Buffer, header: MessageHeader): QueryRequest {
  const [fullCollectionName, afterName] = readCString(frame, HEADER_SIZE + 4); // after flags
  // numberToSkip and numberToReturn are meaningless for a command.
  let [query] = readDocument(frame, afterName + 8, frame.length);
  // Drivers talking to mongos wrap the command: { $query: {...}, $readPreference: ... }.
  if (query.$query && typeof query.$query === "object") query = query.$query as Document;
  return { kind: "query", header, fullCollectionName, query };
}

export function parseRequest(frame: Buffer): Request {
  if (frame.length < HEADER_SIZE) throw new WireError("message shorter than its header");
  const header = readHeader(frame);
  switch (header.opCode) {
    case OpCode.Msg:
      return parseMsg(frame, header);
    case OpCode.Query:
      return parseQuery(frame, header);
    default:
      return { kind: "unsupported", header };
  }
}

function writeHeader(buf: Buffer, requestId: number, responseTo: number, opCode: number): void {
  buf.writeInt32LE(buf.length, 0);
  buf.writeInt32LE(requestId, 4);
  buf.writeInt32LE(responseTo, 8);
  buf.writeInt32LE(opCode, 12);
}

/** A reply OP_MSG: one body section, no flags (we never stream exhaust replies). */
export function encodeMsg(body: Document, requestId: number, responseTo: number): Buffer {
  // undefined means "missing" (e.g. $arrayElemAt out of range): omitted, as mongod does.
  const bson = encodeBody(body);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + 4 + 1 + bson.length);
  writeHeader(buf, requestId, responseTo, OpCode.Msg);
  buf.writeUInt32LE(0, HEADER_SIZE);
  buf.writeUInt8(0, HEADER_SIZE + 4);
  buf.set(bson, HEADER_SIZE + 5);
  return buf;
}

/** OP_REPLY carrying one document, the answer to a legacy OP_QUERY handshake. */
export function encodeReply(doc: Document, requestId: number, responseTo: number): Buffer {
  const bson = BSON.serialize(doc);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + 20 + bson.length);
  writeHeader(buf, requestId, responseTo, OpCode.Reply);
  buf.writeInt32LE(0, HEADER_SIZE); // responseFlags
  buf.writeBigInt64LE(0n, HEADER_SIZE + 4); // cursorID
  buf.writeInt32LE(0, HEADER_SIZE + 12); // startingFrom
  buf.writeInt32LE(1, HEADER_SIZE + 16); // numberReturned
  buf.set(bson, HEADER_SIZE + 20);
  return buf;
}

/**
 * Cuts a TCP byte stream into whole messages. Chunks are kept in a list and joined only once a
 * whole frame is present, so a 48 MB message arriving in 64 KB pieces is copied once.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;

  constructor(private readonly maxMessageSize: number) {}

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < 4) break;
        const length = this.peek(4).readInt32LE(0);
        if (length < HEADER_SIZE || length > this.maxMessageSize) {
          throw new WireError(
            `message length ${length} is outside [${HEADER_SIZE}, ${this.maxMessageSize}]`,
          );
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      frames.push(this.take(this.expected));
      this.expected = -1;
    }
    return frames;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let frame: Buffer;
    if (first.length >= n) {
      frame = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.chunks);
      frame = joined.subarray(0, n);
      this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    return frame;
  }
}
