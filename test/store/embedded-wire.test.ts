import { BSON, type Document } from "bson";
import { afterEach, describe, expect, it } from "vitest";
import { crc32c } from "../../src/store/embedded/crc32c.js";
import { FrameDecoder, WireError } from "../../src/store/embedded/wire.js";
import { RawConnection, usePrivateStore } from "./embedded-helpers.js";

const h = usePrivateStore();

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const CHECKSUM_PRESENT = 1;
const MORE_TO_COME = 2;

let nextRequestId = 1;

function header(length: number, requestId: number, opCode: number): Buffer {
  const buf = Buffer.alloc(16);
  buf.writeInt32LE(length, 0);
  buf.writeInt32LE(requestId, 4);
  buf.writeInt32LE(0, 8);
  buf.writeInt32LE(opCode, 12);
  return buf;
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
}

function bson(doc: Document): Buffer {
  return Buffer.from(BSON.serialize(doc));
}

interface MsgOptions {
  checksum?: boolean;
  corruptChecksum?: boolean;
  moreToCome?: boolean;
  sequences?: [string, Document[]][];
}

function opMsg(body: Document, options: MsgOptions = {}): { bytes: Buffer; requestId: number } {
  const requestId = nextRequestId++;
  let flags = 0;
  if (options.checksum) flags |= CHECKSUM_PRESENT;
  if (options.moreToCome) flags |= MORE_TO_COME;
  const flagBytes = Buffer.alloc(4);
  flagBytes.writeUInt32LE(flags, 0);
  const sections: Buffer[] = [Buffer.from([0]), bson(body)];
  for (const [identifier, docs] of options.sequences ?? []) {
    const payload = Buffer.concat([cstring(identifier), ...docs.map(bson)]);
    const size = Buffer.alloc(4);
    size.writeInt32LE(payload.length + 4, 0);
    sections.push(Buffer.from([1]), size, payload);
  }
  const content = Buffer.concat([flagBytes, ...sections]);
  const length = 16 + content.length + (options.checksum ? 4 : 0);
  let bytes = Buffer.concat([header(length, requestId, OP_MSG), content]);
  if (options.checksum) {
    const sum = Buffer.alloc(4);
    sum.writeUInt32LE((crc32c(bytes) ^ (options.corruptChecksum ? 1 : 0)) >>> 0, 0);
    bytes = Buffer.concat([bytes, sum]);
  }
  return { bytes, requestId };
}

function opQuery(collection: string, query: Document): { bytes: Buffer; requestId: number } {
  const requestId = nextRequestId++;
  const skipAndReturn = Buffer.alloc(8);
  skipAndReturn.writeInt32LE(0, 0);
  skipAndReturn.writeInt32LE(-1, 4);
  const content = Buffer.concat([Buffer.alloc(4), cstring(collection), skipAndReturn, bson(query)]);
  return {
    bytes: Buffer.concat([header(16 + content.length, requestId, OP_QUERY), content]),
    requestId,
  };
}

function readMsgReply(frame: Buffer | undefined): { responseTo: number; body: Document } {
  expect(frame, "a reply").toBeDefined();
  const f = frame!;
  expect(f.readInt32LE(12)).toBe(OP_MSG);
  expect(f.readUInt32LE(16)).toBe(0); // no flags: no checksum, no moreToCome
  expect(f.readUInt8(20)).toBe(0);
  return { responseTo: f.readInt32LE(8), body: BSON.deserialize(f.subarray(21)) };
}

const open: RawConnection[] = [];
async function connection(): Promise<RawConnection> {
  const c = await RawConnection.open(h.store.port);
  open.push(c);
  return c;
}

afterEach(() => {
  while (open.length) open.pop()?.close();
});

describe("legacy OP_QUERY handshake", () => {
  it("answers isMaster on admin.$cmd with an OP_REPLY like a standalone mongod 7.0", async () => {
    const c = await connection();
    const { bytes, requestId } = opQuery("admin.$cmd", { isMaster: 1, helloOk: true, client: {} });
    c.write(bytes);
    const frame = (await c.next())!;
    expect(frame.readInt32LE(12)).toBe(OP_REPLY);
    expect(frame.readInt32LE(8)).toBe(requestId);
    expect(frame.readInt32LE(32)).toBe(1); // numberReturned
    const reply = BSON.deserialize(frame.subarray(36));
    expect(reply).toMatchObject({
      ismaster: true,
      helloOk: true,
      maxBsonObjectSize: 16777216,
      maxMessageSizeBytes: 48000000,
      maxWriteBatchSize: 100000,
      logicalSessionTimeoutMinutes: 30,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
      ok: 1,
    });
    expect(reply.localTime).toBeInstanceOf(Date);
    expect(typeof reply.connectionId).toBe("number");
    // No topologyVersion (drivers poll instead of streaming) and no compression offered.
    expect(reply.topologyVersion).toBeUndefined();
    expect(reply.compression).toBeUndefined();
    expect(reply.setName).toBeUndefined();
  });

  it("also accepts hello and ismaster on another database's $cmd", async () => {
    const c = await connection();
    c.write(opQuery("app.$cmd", { hello: 1 }).bytes);
    const reply = BSON.deserialize((await c.next())!.subarray(36));
    expect(reply.isWritablePrimary).toBe(true);
    c.write(opQuery("app.$cmd", { ismaster: 1 }).bytes);
    expect(BSON.deserialize((await c.next())!.subarray(36)).ismaster).toBe(true);
  });

  it("refuses other commands over OP_QUERY as mongod 5.1+ does", async () => {
    const c = await connection();
    c.write(opQuery("app.$cmd", { find: "x" }).bytes);
    const reply = BSON.deserialize((await c.next())!.subarray(36));
    expect(reply).toMatchObject({ ok: 0, code: 352, codeName: "UnsupportedOpQueryCommand" });
  });
});

describe("OP_MSG", () => {
  it("answers a ping with responseTo set to the request id", async () => {
    const c = await connection();
    const { bytes, requestId } = opMsg({ ping: 1, $db: "admin" });
    c.write(bytes);
    const reply = readMsgReply(await c.next());
    expect(reply.responseTo).toBe(requestId);
    expect(reply.body).toEqual({ ok: 1 });
  });

  it("verifies and strips a CRC-32C checksum", async () => {
    const c = await connection();
    const { bytes } = opMsg({ ping: 1, $db: "admin" }, { checksum: true });
    c.write(bytes);
    expect(readMsgReply(await c.next()).body.ok).toBe(1);
  });

  it("drops the connection on a checksum mismatch", async () => {
    const c = await connection();
    c.write(opMsg({ ping: 1, $db: "admin" }, { checksum: true, corruptChecksum: true }).bytes);
    expect(await c.next()).toBeUndefined();
  });

  it("merges kind-1 document sequences into the command (insert.documents)", async () => {
    const c = await connection();
    const docs = [
      { _id: 1, a: "x" },
      { _id: 2, a: "y" },
      { _id: 3, a: "z" },
    ];
    c.write(
      opMsg({ insert: "seq", ordered: true, $db: "wire" }, { sequences: [["documents", docs]] })
        .bytes,
    );
    expect(readMsgReply(await c.next()).body).toEqual({ n: 3, ok: 1 });
    c.write(
      opMsg(
        { update: "seq", $db: "wire" },
        { sequences: [["updates", [{ q: { _id: 2 }, u: { $set: { b: true } } }]]] },
      ).bytes,
    );
    expect(readMsgReply(await c.next()).body).toMatchObject({ n: 1, nModified: 1, ok: 1 });
    c.write(opMsg({ find: "seq", filter: {}, sort: { _id: 1 }, $db: "wire" }).bytes);
    const found = readMsgReply(await c.next()).body;
    expect(found.cursor.firstBatch).toEqual([
      { _id: 1, a: "x" },
      { _id: 2, a: "y", b: true },
      { _id: 3, a: "z" },
    ]);
  });

  it("executes but does not answer a request flagged moreToCome", async () => {
    const c = await connection();
    c.write(
      opMsg({ insert: "fire", documents: [{ _id: "w0" }], $db: "wire" }, { moreToCome: true })
        .bytes,
    );
    const ping = opMsg({ find: "fire", filter: {}, $db: "wire" });
    c.write(ping.bytes);
    // The first frame to arrive answers the find: the insert produced no reply of its own.
    const reply = readMsgReply(await c.next());
    expect(reply.responseTo).toBe(ping.requestId);
    expect(reply.body.cursor.firstBatch).toEqual([{ _id: "w0" }]);
  });

  it("reassembles a message that arrives one byte at a time", async () => {
    const c = await connection();
    const { bytes, requestId } = opMsg({ ping: 1, $db: "admin" });
    for (const byte of bytes) {
      c.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(readMsgReply(await c.next()).responseTo).toBe(requestId);
  });

  it("answers several messages that arrive in one chunk, in order", async () => {
    const c = await connection();
    const messages = [1, 2, 3].map(() => opMsg({ ping: 1, $db: "admin" }));
    c.write(Buffer.concat(messages.map((m) => m.bytes)));
    for (const m of messages) expect(readMsgReply(await c.next()).responseTo).toBe(m.requestId);
  });

  it("drops the connection when a frame is larger than maxMessageSizeBytes", async () => {
    const c = await connection();
    c.write(header(48_000_001, nextRequestId++, OP_MSG));
    await c.closedByServer();
  });

  it("drops the connection for an opcode it does not speak (OP_COMPRESSED)", async () => {
    const c = await connection();
    const body = Buffer.alloc(9);
    c.write(Buffer.concat([header(25, nextRequestId++, 2012), body]));
    await c.closedByServer();
  });

  it("answers an unknown command with CommandNotFound, like mongod", async () => {
    const c = await connection();
    c.write(opMsg({ frobnicate: 1, $db: "admin" }).bytes);
    expect(readMsgReply(await c.next()).body).toEqual({
      ok: 0,
      errmsg: "no such command: 'frobnicate'",
      code: 59,
      codeName: "CommandNotFound",
    });
  });

  it("requires $db", async () => {
    const c = await connection();
    c.write(opMsg({ ping: 1 }).bytes);
    expect(readMsgReply(await c.next()).body).toMatchObject({ ok: 0, code: 40571 });
  });
});

describe("framing and checksums", () => {
  it("computes CRC-32C (Castagnoli), not CRC-32", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
  });

  it("splits a byte stream into frames regardless of chunk boundaries", () => {
    const a = opMsg({ ping: 1, $db: "admin" }).bytes;
    const b = opMsg({ hello: 1, $db: "admin" }).bytes;
    const stream = Buffer.concat([a, b]);
    for (let cut = 1; cut < stream.length; cut += 7) {
      const decoder = new FrameDecoder(1024);
      const frames = [
        ...decoder.push(stream.subarray(0, cut)),
        ...decoder.push(stream.subarray(cut)),
      ];
      expect(frames.map((f) => f.toString("hex"))).toEqual([a.toString("hex"), b.toString("hex")]);
    }
  });

  it("rejects frame lengths below the header size or above the maximum", () => {
    expect(() => new FrameDecoder(1024).push(header(8, 1, OP_MSG))).toThrow(WireError);
    expect(() => new FrameDecoder(1024).push(header(2048, 1, OP_MSG))).toThrow(WireError);
  });
});
