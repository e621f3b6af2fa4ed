import { createHash } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { EJSON } from "bson";
import type { Document, MongoClient } from "mongodb";

/**
 * Copies every collection (with its indexes) from one MongoDB-compatible server to another
 * through the official driver: in `_id` order, in batches, recording the last copied `_id` per
 * collection in a progress file so an interrupted run resumes where it stopped. Verified by
 * document counts and a per-collection checksum (SHA-256 over the canonical Extended JSON of
 * every document in `_id` order) computed on both sides.
 */

export interface MigrateOptions {
  readonly source: MongoClient;
  readonly target: MongoClient;
  /** Where progress is kept between runs. */
  readonly progressFile: string;
  /** Overwrite collections that already hold documents in the target. */
  readonly force?: boolean;
  readonly batchSize?: number;
  /** Called after every batch (progress display). */
  readonly onProgress?: (p: { ns: string; copied: number; total: number }) => void;
  /** Stops after this many batches (to test interruption); the run then reports incomplete. */
  readonly stopAfterBatches?: number;
}

export interface CollectionResult {
  readonly ns: string;
  readonly documents: number;
  readonly indexes: number;
  readonly checksum: string;
}

export interface MigrateResult {
  readonly complete: boolean;
  readonly collections: CollectionResult[];
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

interface Progress {
  /** `{ v: <last copied _id> }` as canonical EJSON, per namespace; `done` once verified. */
  readonly collections: Record<string, { lastId?: string; done?: boolean }>;
}

const SYSTEM_DBS = new Set(["admin", "local", "config"]);

async function loadProgress(file: string): Promise<Progress> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Progress;
  } catch {
    return { collections: {} };
  }
}

async function saveProgress(file: string, progress: Progress): Promise<void> {
  // Written aside and renamed, so an interruption never leaves half a file.
  await writeFile(`${file}.tmp`, JSON.stringify(progress));
  await rename(`${file}.tmp`, file);
}

async function namespaces(client: MongoClient): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
  for (const { name } of databases) {
    if (SYSTEM_DBS.has(name)) continue;
    const collections = await client.db(name).listCollections({}, { nameOnly: true }).toArray();
    for (const c of collections) {
      if (!c.name.startsWith("system.")) out.push([name, c.name]);
    }
  }
  return out.sort();
}

/** Count and checksum of a collection, read in `_id` order. */
export async function fingerprint(
  client: MongoClient,
  db: string,
  coll: string,
): Promise<{ count: number; checksum: string }> {
  const hash = createHash("sha256");
  let count = 0;
  for await (const doc of client
    .db(db)
    .collection(coll)
    .find({}, { sort: { _id: 1 } })) {
    hash.update(EJSON.stringify(doc, { relaxed: false }));
    hash.update("\n");
    count++;
  }
  return { count, checksum: hash.digest("hex") };
}

export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const { source, target, progressFile } = options;
  const batchSize = options.batchSize ?? 1_000;
  const progress = await loadProgress(progressFile);
  const list = await namespaces(source);

  // Refuse before copying anything: a target collection with documents that this migration did
  // not start is someone else's data.
  if (!options.force) {
    for (const [db, coll] of list) {
      const ns = `${db}.${coll}`;
      if (progress.collections[ns]) continue;
      const existing = await target.db(db).collection(coll).estimatedDocumentCount();
      if (existing > 0) {
        throw new MigrationError(
          `target collection ${ns} already holds ${existing} documents; use --force to overwrite it`,
        );
      }
    }
  }

  let batches = 0;
  const results: CollectionResult[] = [];
  for (const [db, coll] of list) {
    const ns = `${db}.${coll}`;
    const state = progress.collections[ns] ?? {};
    const from = source.db(db).collection(coll);
    const to = target.db(db).collection(coll);
    if (!progress.collections[ns]) {
      if (options.force) await to.drop().catch(() => undefined);
      progress.collections[ns] = state;
      await saveProgress(progressFile, progress);
    }
    const indexes = (await from.listIndexes().toArray()).filter((ix) => ix.name !== "_id_");
    if (!state.done) {
      await target
        .db(db)
        .createCollection(coll)
        .catch(() => undefined);
      if (indexes.length) {
        const specs = indexes.map(({ v: _v, ns: _ns, ...spec }) => spec as Document);
        await target.db(db).command({ createIndexes: coll, indexes: specs });
      }
      const total = await from.countDocuments();
      let lastId: unknown =
        state.lastId === undefined ? undefined : EJSON.parse(state.lastId, { relaxed: false }).v;
      let copied =
        lastId === undefined ? 0 : await from.countDocuments({ _id: { $lte: lastId } } as Document);
      for (;;) {
        if (options.stopAfterBatches !== undefined && batches >= options.stopAfterBatches) {
          return { complete: false, collections: results };
        }
        const filter: Document = lastId === undefined ? {} : { _id: { $gt: lastId } };
        const docs = await from.find(filter, { sort: { _id: 1 }, limit: batchSize }).toArray();
        if (docs.length === 0) break;
        try {
          await to.insertMany(docs, { ordered: false });
        } catch (error) {
          // A resumed batch may already be in the target (copied, progress not yet saved).
          const writeErrors = (error as { writeErrors?: { code?: number }[] }).writeErrors;
          if (!writeErrors || writeErrors.some((e) => e.code !== 11000)) throw error;
        }
        lastId = docs[docs.length - 1]!._id;
        copied += docs.length;
        batches++;
        progress.collections[ns] = { lastId: EJSON.stringify({ v: lastId }, { relaxed: false }) };
        await saveProgress(progressFile, progress);
        options.onProgress?.({ ns, copied, total });
      }
    }
    const [a, b] = await Promise.all([
      fingerprint(source, db, coll),
      fingerprint(target, db, coll),
    ]);
    if (a.count !== b.count || a.checksum !== b.checksum) {
      throw new MigrationError(
        `verification failed for ${ns}: source ${a.count} documents (${a.checksum.slice(0, 12)}), target ${b.count} (${b.checksum.slice(0, 12)})`,
      );
    }
    progress.collections[ns] = { done: true };
    await saveProgress(progressFile, progress);
    results.push({ ns, documents: a.count, indexes: indexes.length + 1, checksum: a.checksum });
  }
  return { complete: true, collections: results };
}
