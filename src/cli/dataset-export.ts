import { createWriteStream } from "node:fs";
import { resolve } from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createSnapshotReader, type ExportFile, rowsIn } from "../datasets/export.js";
import { hexToObjectId } from "../ids.js";
import { connectStore } from "../store/mongo.js";

/**
 * `npm run dataset:export -- --snapshot <id> [--split train|eval|provenance] [--out <file>]
 * [--mongodb-uri <uri>] [--db <name>] [--dbpath <dir>]`: writes a ready snapshot's file, the same
 * bytes `GET /datasets/<id>/<split>.jsonl` serves, streamed page by page, with a progress bar on
 * stderr. Reads MONGODB_URI / MONGODB_DB like the gateway; without a URI it opens the embedded
 * store under DATA_DIR/db (stop Loopgate first: the data directory has one owner).
 */

const USAGE =
  "usage: dataset:export --snapshot <id> [--split train|eval|provenance] [--out <file>] [--mongodb-uri <uri>] [--db <name>] [--dbpath <dir>]";

function bar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
  const percent = total === 0 ? 100 : Math.min(100, Math.floor((done / total) * 100));
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${percent}% ${done}/${total} rows`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      snapshot: { type: "string" },
      split: { type: "string", default: "train" },
      out: { type: "string" },
      "mongodb-uri": { type: "string", default: process.env.MONGODB_URI },
      db: { type: "string", default: process.env.MONGODB_DB ?? "loopgate" },
      dbpath: { type: "string", default: resolve(process.env.DATA_DIR ?? "./data", "db") },
    },
    strict: true,
  });
  const id = hexToObjectId(values.snapshot ?? "");
  const file = values.split as ExportFile;
  if (!id || !["train", "eval", "provenance"].includes(file)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let embedded: { uri: string; close(): Promise<void>; ready: Promise<void> } | undefined;
  let uri = values["mongodb-uri"];
  if (!uri) {
    const { startEmbeddedMongo } = await import("../store/embedded/index.js");
    embedded = await startEmbeddedMongo({ port: 0, dbPath: resolve(values.dbpath) });
    await embedded.ready;
    uri = embedded.uri;
  }
  const store = await connectStore({ uri, dbName: values.db });
  try {
    const reader = createSnapshotReader(store.collections);
    const snapshot = await reader.exportable(id);
    const total = rowsIn(snapshot, file);
    let done = 0;
    let shownAt = 0;
    const show = () => process.stderr.write(`\r${bar(done, total)}`);
    show();
    const counted = async function* () {
      for await (const line of reader.lines(id, file)) {
        done += 1;
        if (done - shownAt >= 1_000) {
          shownAt = done;
          show();
        }
        yield line;
      }
    };
    const target: Writable = values.out ? createWriteStream(resolve(values.out)) : process.stdout;
    await pipeline(Readable.from(counted()), target);
    show();
    process.stderr.write("\n");
    return 0;
  } finally {
    await store.close();
    await embedded?.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
