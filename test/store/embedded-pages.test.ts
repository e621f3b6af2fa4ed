import Database from "better-sqlite3";
import { BSON } from "bson";
import { describe, expect, it } from "vitest";
import { PACKED_PAGE_BYTES, preparePage } from "../../src/store/embedded/packed-pages.js";
import { usePrivateClient } from "./embedded-helpers.js";

// Scans read a page of documents as one packed result; order and content must be exactly those
// of reading row by row, and a page of large documents must not be packed into one huge value.

describe("packed pages", () => {
  const setup = (docs: Buffer[]) => {
    const db = new Database(":memory:");
    db.exec(
      "CREATE TABLE docs (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc BLOB NOT NULL)",
    );
    const insert = db.prepare("INSERT INTO docs (id, doc) VALUES (?, ?)");
    docs.forEach((doc, i) => {
      insert.run(`k${i}`, doc);
    });
    const st = preparePage(
      db,
      "SELECT id, rid, doc FROM docs WHERE rid > ? ORDER BY rid",
      "rid",
      false,
    );
    return { db, st };
  };

  it("splits a page of small documents from one buffer, in order", () => {
    const docs = Array.from({ length: 300 }, (_, i) =>
      Buffer.from(BSON.serialize({ i, text: "é".repeat(i % 17), nested: { n: null } })),
    );
    const { db, st } = setup(docs);
    const { rows } = st.read([0], 1000);
    expect(rows.map((r) => r.rid)).toEqual(docs.map((_, i) => i + 1));
    expect(rows.map((r) => r.id)).toEqual(docs.map((_, i) => `k${i}`));
    for (const [i, r] of rows.entries()) expect(r.doc.equals(docs[i]!)).toBe(true);
    expect(new Set(rows.map((r) => r.doc.buffer)).size).toBe(1);
    expect(st.read([150], 1000).rows.map((r) => r.rid)[0]).toBe(151);
    expect(st.read([300], 1000).rows).toEqual([]);
    db.close();
  });

  it("reads a page of large documents row by row", () => {
    const big = Math.ceil(PACKED_PAGE_BYTES / 3);
    const docs = Array.from({ length: 4 }, (_, i) =>
      Buffer.from(BSON.serialize({ i, blob: "x".repeat(big) })),
    );
    const { db, st } = setup(docs);
    const { rows } = st.read([0], 1000);
    for (const [i, r] of rows.entries()) expect(r.doc.equals(docs[i]!)).toBe(true);
    expect(new Set(rows.map((r) => r.doc.buffer)).size).toBe(4);
    // The last two fit in one packed page.
    const lastTwo = st.read([2], 1000).rows;
    expect(lastTwo.map((r) => r.rid)).toEqual([3, 4]);
    expect(new Set(lastTwo.map((r) => r.doc.buffer)).size).toBe(1);
    db.close();
  });
});

describe("scans through packed pages", () => {
  const h = usePrivateClient();

  it("keeps index order (ties by record) across many pages, both ways, and natural order", async () => {
    const coll = h.client.db("pages").collection<{ _id: number; k: number }>("order");
    await coll.createIndex({ k: 1 });
    const docs = Array.from({ length: 3_000 }, (_, i) => ({ _id: i, k: (i * 7919) % 13 }));
    await coll.insertMany(docs);
    const asc = [...docs].sort((a, b) => a.k - b.k || a._id - b._id).map((d) => d._id);
    const found = await coll.find({ k: { $gte: 0 } }, { sort: { k: 1 }, batchSize: 500 }).toArray();
    expect(found.map((d) => d._id)).toEqual(asc);
    const desc = await coll.find({ k: { $lte: 12 } }, { sort: { k: -1 } }).toArray();
    expect(desc.map((d) => d._id)).toEqual([...asc].reverse());
    const natural = await coll.find({}, { hint: { $natural: 1 } }).toArray();
    expect(natural.map((d) => d._id)).toEqual(docs.map((d) => d._id));
    const grouped = await coll
      .aggregate([{ $match: { k: { $gte: 3 } } }, { $group: { _id: null, n: { $sum: 1 } } }])
      .toArray();
    expect(grouped[0]?.n).toBe(docs.filter((d) => d.k >= 3).length);
  });

  it("returns large documents whole through an index scan and a collection scan", async () => {
    const coll = h.client.db("pages").collection<{ _id: number; k: number; blob: string }>("large");
    await coll.createIndex({ k: 1 });
    const docs = Array.from({ length: 12 }, (_, i) => ({
      _id: i,
      k: i % 3,
      blob: String.fromCharCode(97 + i).repeat(3 * 1024 * 1024),
    }));
    for (const doc of docs) await coll.insertOne(doc);
    const byIndex = await coll.find({ k: { $gte: 0 } }, { sort: { k: 1 } }).toArray();
    expect(byIndex.map((d) => d._id)).toEqual(
      [...docs].sort((a, b) => a.k - b.k || a._id - b._id).map((d) => d._id),
    );
    for (const d of byIndex) expect(d.blob).toBe(docs[d._id]!.blob);
    const scanned = await coll.find({ blob: { $exists: true } }).toArray();
    expect(scanned.map((d) => d._id)).toEqual(docs.map((d) => d._id));
  });
});
