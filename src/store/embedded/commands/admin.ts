import { cpus, hostname, totalmem } from "node:os";
import { type Document, UUID } from "bson";
import { toNumber } from "../bson-numbers.js";
import { commandError } from "../errors.js";
import type { CommandContext, CommandDefinition } from "./context.js";

export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
export const MAX_MESSAGE_SIZE_BYTES = 48_000_000;
export const MAX_WRITE_BATCH_SIZE = 100_000;
export const SERVER_VERSION = "7.0.0";

/**
 * hello/isMaster as a standalone mongod 7.0 answers it. No `topologyVersion` (so drivers poll
 * rather than stream), no `compression`, no `setName` (so drivers see a standalone and never
 * add transaction numbers for retryable writes).
 */
export function helloReply(
  ctx: Pick<CommandContext, "body" | "name" | "server" | "connection">,
): Document {
  const legacy = ctx.name.toLowerCase() === "ismaster";
  return {
    ...(ctx.body.helloOk === true ? { helloOk: true } : {}),
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE_BYTES,
    maxWriteBatchSize: MAX_WRITE_BATCH_SIZE,
    localTime: ctx.server.now(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connection.id,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
    ok: 1,
  };
}

function buildInfo(): Document {
  return {
    version: SERVER_VERSION,
    gitVersion: "0000000000000000000000000000000000000000",
    modules: [],
    allocator: "system",
    javascriptEngine: "none",
    sysInfo: "deprecated",
    versionArray: [7, 0, 0, 0],
    openssl: { running: "disabled", compiled: "disabled" },
    buildEnvironment: {
      distmod: "loopgate-embedded",
      target_arch: process.arch,
      target_os: "linux",
    },
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    storageEngines: ["sqlite"],
    ok: 1,
  };
}

function getParameter(ctx: CommandContext): Document {
  const { parameters } = ctx.server;
  const all =
    ctx.body.getParameter === "*" ||
    (typeof ctx.body.getParameter === "object" &&
      ctx.body.getParameter !== null &&
      (ctx.body.getParameter as Document).allParameters === true);
  if (all) return { ...parameters.all(), ok: 1 };
  const reply: Document = {};
  for (const name of Object.keys(ctx.body)) {
    if (name === "getParameter" || name.startsWith("$") || name === "lsid" || name === "comment")
      continue;
    const value = parameters.get(name);
    if (value !== undefined) reply[name] = value;
  }
  if (Object.keys(reply).length === 0)
    throw commandError("InvalidOptions", "no option found to get");
  return { ...reply, ok: 1 };
}

function setParameter(ctx: CommandContext): Document {
  const names = Object.keys(ctx.body).filter(
    (n) => n !== "setParameter" && !n.startsWith("$") && n !== "lsid" && n !== "comment",
  );
  if (names.length === 0)
    throw commandError("NoSuchKey", "no option found to set, use help:true to see options ");
  let was: unknown;
  for (const name of names) was = ctx.server.parameters.set(name, ctx.body[name]);
  return { was, ok: 1 };
}

function dbSummaries(ctx: CommandContext): Document[] {
  const { catalog } = ctx.server;
  const names = new Set([...catalog.databaseNames(), "admin", "config", "local"]);
  return [...names].sort().map((name) => {
    let size = 0;
    const collections = catalog.collectionNames(name);
    for (const c of collections) size += 4096 + (catalog.peek(name, c)?.dataSize ?? 0);
    const builtin = name === "admin" || name === "config" || name === "local";
    return { name, sizeOnDisk: size || (builtin ? 8192 : 0), empty: size === 0 && !builtin };
  });
}

function listDatabases(ctx: CommandContext): Document {
  let dbs = dbSummaries(ctx);
  const filter = ctx.body.filter;
  if (filter && typeof filter === "object" && Object.keys(filter).length > 0) {
    const test = ctx.server.engine.compileFilter(filter as Document);
    dbs = dbs.filter((d) => test(d));
  }
  if (ctx.body.nameOnly === true) return { databases: dbs.map((d) => ({ name: d.name })), ok: 1 };
  const totalSize = dbs.reduce((n, d) => n + (d.sizeOnDisk as number), 0);
  return { databases: dbs, totalSize, totalSizeMb: Math.floor(totalSize / (1024 * 1024)), ok: 1 };
}

function dbStats(ctx: CommandContext): Document {
  const { catalog } = ctx.server;
  const scale = Math.max(1, toNumber(ctx.body.scale) ?? 1);
  let objects = 0;
  let dataSize = 0;
  let indexes = 0;
  let indexSize = 0;
  const names = catalog.collectionNames(ctx.db);
  for (const name of names) {
    const c = catalog.get(ctx.db, name);
    if (!c) continue;
    objects += c.docs.size;
    dataSize += c.dataSize;
    indexes += c.indexes.length;
    indexSize += c.indexes.length * c.docs.size * 16;
  }
  return {
    db: ctx.db,
    collections: names.length,
    views: 0,
    objects,
    avgObjSize: objects ? dataSize / objects : 0,
    dataSize: dataSize / scale,
    storageSize: dataSize / scale,
    indexes,
    indexSize: indexSize / scale,
    totalSize: (dataSize + indexSize) / scale,
    scaleFactor: scale,
    fsUsedSize: ctx.server.storage.fileSize(),
    fsTotalSize: ctx.server.storage.fileSize(),
    ok: 1,
  };
}

function serverStatus(ctx: CommandContext): Document {
  const { server } = ctx;
  const now = server.now();
  const uptimeMillis = Math.max(0, now.getTime() - server.startedAt.getTime());
  return {
    host: `${hostname()}:${server.port}`,
    version: SERVER_VERSION,
    process: "mongod",
    pid: BigInt(process.pid),
    uptime: Math.floor(uptimeMillis / 1000),
    uptimeMillis: BigInt(uptimeMillis),
    uptimeEstimate: BigInt(Math.floor(uptimeMillis / 1000)),
    localTime: now,
    connections: {
      current: server.connectionCount(),
      available: 1_000_000 - server.connectionCount(),
      totalCreated: server.totalConnections(),
      active: server.connectionCount(),
    },
    storageEngine: { name: "sqlite", supportsCommittedReads: false, persistent: true },
    metrics: { cursor: { open: { total: BigInt(server.cursors.size) } } },
    ok: 1,
  };
}

function hostInfo(ctx: CommandContext): Document {
  return {
    system: {
      currentTime: ctx.server.now(),
      hostname: hostname(),
      cpuAddrSize: 64,
      memSizeMB: BigInt(Math.floor(totalmem() / (1024 * 1024))),
      numCores: cpus().length,
      cpuArch: process.arch,
    },
    os: { type: process.platform, name: process.platform, version: "" },
    extra: {},
    ok: 1,
  };
}

const ok = (): Document => ({ ok: 1 });

export const adminCommands: Record<string, CommandDefinition> = {
  hello: { handler: helloReply },
  isMaster: { handler: helloReply },
  ismaster: { handler: helloReply },
  ping: { handler: ok },
  buildInfo: { handler: buildInfo },
  buildinfo: { handler: buildInfo },
  getParameter: { handler: getParameter, adminOnly: true },
  setParameter: { handler: setParameter, adminOnly: true },
  whatsmyuri: { handler: (ctx) => ({ you: ctx.connection.remote, ok: 1 }) },
  endSessions: { handler: ok },
  killAllSessions: { handler: ok },
  killSessions: { handler: ok },
  refreshSessions: { handler: ok },
  startSession: {
    handler: () => ({ id: { id: new UUID() }, timeoutMinutes: 30, ok: 1 }),
  },
  connectionStatus: {
    handler: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }),
  },
  listDatabases: { handler: listDatabases, adminOnly: true },
  dbStats: { handler: dbStats },
  serverStatus: { handler: serverStatus },
  hostInfo: { handler: hostInfo },
  getCmdLineOpts: {
    adminOnly: true,
    handler: (ctx) => ({
      argv: ["loopgate-embedded-mongo"],
      parsed: {
        net: { bindIp: ctx.server.host, port: ctx.server.port },
        storage: { dbPath: ctx.server.dbPath },
      },
      ok: 1,
    }),
  },
};
