import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { startEmbeddedMongo } from "./index.js";

/**
 * `npm run db -- --port <port> --dbpath <dir>`: runs the embedded store as a process. Prints
 * exactly one line, the connection URI, on stdout once it accepts connections (so a parent can
 * read it); logs go to stderr. SIGTERM/SIGINT close it cleanly and exit 0.
 */

const USAGE =
  "usage: db [--port <port>] [--dbpath <dir>] [--host <host>] [--ttl-sleep <seconds>] [--cache-mb <MiB>]";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "27017" },
      dbpath: { type: "string", default: "./data" },
      host: { type: "string", default: "127.0.0.1" },
      "ttl-sleep": { type: "string" },
      "cache-mb": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid --port ${values.port}\n${USAGE}`);
  }
  const logger = pino(
    { name: "embedded-mongo", level: process.env.LOG_LEVEL ?? "info" },
    pino.destination(2),
  );
  const store = await startEmbeddedMongo({
    port,
    host: values.host,
    dbPath: resolve(values.dbpath),
    logger,
    ...(values["ttl-sleep"] ? { ttlMonitorSleepSecs: Number(values["ttl-sleep"]) } : {}),
    ...(values["cache-mb"] ? { cacheMb: Number(values["cache-mb"]) } : {}),
  });
  process.stdout.write(`${store.uri}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping embedded store");
    store.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "failed to stop cleanly");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
