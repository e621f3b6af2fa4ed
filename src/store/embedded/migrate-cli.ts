import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { startEmbeddedMongo } from "./index.js";
import { MigrationError, migrate } from "./migrate.js";

/**
 * `npm run migrate -- --to <mongodb-uri> [--force] [--dbpath <dir>] [--from <uri>]`: copies
 * the embedded store (DATA_DIR/db, or a running store given by --from) into a MongoDB. Resumable
 * (progress kept in <dbpath>/migrate-progress.json); refuses non-empty target collections
 * unless --force. Stop Loopgate first: the embedded store's data directory has one owner.
 */

const USAGE =
  "usage: migrate --to <mongodb-uri> [--force] [--dbpath <dir> | --from <uri>] [--progress <file>]";

function bar(copied: number, total: number): string {
  const width = 30;
  const done = total === 0 ? width : Math.round((copied / total) * width);
  const percent = total === 0 ? 100 : Math.floor((copied / total) * 100);
  return `[${"#".repeat(done)}${" ".repeat(width - done)}] ${percent}%`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      to: { type: "string" },
      from: { type: "string" },
      dbpath: { type: "string", default: resolve(process.env.DATA_DIR ?? "./data", "db") },
      progress: { type: "string" },
      force: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (!values.to) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const dbPath = resolve(values.dbpath);
  const store = values.from ? undefined : await startEmbeddedMongo({ port: 0, dbPath });
  await store?.ready;
  const source = new MongoClient(values.from ?? store!.uri);
  const target = new MongoClient(values.to, { serverSelectionTimeoutMS: 15_000 });
  try {
    await Promise.all([source.connect(), target.connect()]);
    const result = await migrate({
      source,
      target,
      progressFile: values.progress ?? resolve(dbPath, "migrate-progress.json"),
      force: values.force,
      onProgress: ({ ns, copied, total }) => {
        process.stderr.write(`\r${bar(copied, total)} ${ns} ${copied}/${total}   `);
      },
    });
    process.stderr.write("\n");
    for (const c of result.collections) {
      process.stdout.write(
        `${c.ns}: ${c.documents} documents, ${c.indexes} indexes, checksum ${c.checksum.slice(0, 16)} (verified)\n`,
      );
    }
    return result.complete ? 0 : 1;
  } catch (error) {
    process.stderr.write(
      `\nmigration stopped: ${error instanceof Error ? error.message : String(error)}\n` +
        (error instanceof MigrationError ? "" : "run the same command again to resume\n"),
    );
    return 1;
  } finally {
    await source.close();
    await target.close();
    await store?.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
