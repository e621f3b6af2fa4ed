import { EJSON, type Long } from "bson";
import {
  type AnyBulkWriteOperation,
  type ClientSession,
  type Collection,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Db,
  type Document,
  MongoClient,
  type MongoClientOptions,
  MongoServerError,
} from "mongodb";

/**
 * A small runner for MongoDB's unified test format (the CRUD subset): entities, initialData,
 * operations with expectResult/expectError, expectEvents and outcome. It reads the JSON files of
 * the public `mongodb/specifications` repository from a directory on disk; nothing of them is
 * kept in this repository. The server is described as a standalone 7.0 for runOnRequirements.
 */

export const SERVER = { version: [7, 0, 0], topology: "single" } as const;

export interface UnifiedFile {
  description: string;
  schemaVersion: string;
  runOnRequirements?: Document[];
  createEntities?: Document[];
  initialData?: Document[];
  tests: UnifiedTest[];
}

export interface UnifiedTest {
  description: string;
  runOnRequirements?: Document[];
  skipReason?: string;
  operations: Document[];
  expectEvents?: Document[];
  outcome?: Document[];
}

export function parseFile(text: string): UnifiedFile {
  return EJSON.parse(text, { relaxed: true }) as UnifiedFile;
}

function versionOf(text: string): number[] {
  const parts = text.split(".").map(Number);
  while (parts.length < 3) parts.push(0);
  return parts;
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** Why a requirement list excludes this server, or undefined when one requirement fits. */
export function unmetRequirement(requirements: Document[] | undefined): string | undefined {
  if (!requirements || requirements.length === 0) return undefined;
  const reasons: string[] = [];
  for (const r of requirements) {
    if (r.minServerVersion && compareVersions(SERVER.version, versionOf(r.minServerVersion)) < 0)
      reasons.push(`needs server >= ${r.minServerVersion}`);
    else if (
      r.maxServerVersion &&
      compareVersions(SERVER.version, versionOf(r.maxServerVersion)) > 0
    )
      reasons.push(`needs server <= ${r.maxServerVersion}`);
    else if (r.topologies && !r.topologies.includes(SERVER.topology))
      reasons.push(`needs topology ${r.topologies.join("/")}`);
    else if (r.serverless === "require") reasons.push("needs serverless");
    else if (r.auth === true) reasons.push("needs auth");
    else if (r.csfle) reasons.push("needs csfle");
    else if (r.serverParameters) reasons.push("needs server parameters");
    else return undefined;
  }
  return reasons.join("; ");
}

// ---------------------------------------------------------------------------------------------
// Matching (unified-test-format "Evaluating Matches")

function isDocument(value: unknown): value is Document {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if ((value as { _bsontype?: unknown })._bsontype !== undefined) return false;
  return !(value instanceof Date) && !(value instanceof RegExp) && !Buffer.isBuffer(value);
}

function numeric(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  const tag = (value as { _bsontype?: string } | null)?._bsontype;
  if (tag === "Long") return (value as Long).toNumber();
  if (tag === "Int32" || tag === "Double") return (value as { value: number }).value;
  return undefined;
}

function typeMatches(type: string, value: unknown): boolean {
  const tag = (value as { _bsontype?: string } | null)?._bsontype;
  switch (type) {
    case "double":
      return typeof value === "number" || tag === "Double";
    case "int":
      return (typeof value === "number" && Number.isInteger(value)) || tag === "Int32";
    case "long":
      return (
        (typeof value === "number" && Number.isInteger(value)) ||
        tag === "Long" ||
        typeof value === "bigint"
      );
    case "decimal":
      return tag === "Decimal128";
    case "string":
      return typeof value === "string";
    case "object":
      return isDocument(value);
    case "array":
      return Array.isArray(value);
    case "binData":
      return tag === "Binary" || Buffer.isBuffer(value);
    case "objectId":
      return tag === "ObjectId";
    case "bool":
      return typeof value === "boolean";
    case "date":
      return value instanceof Date;
    case "null":
      return value === null;
    case "timestamp":
      return tag === "Timestamp";
    case "number":
      return numeric(value) !== undefined;
    default:
      return false;
  }
}

export class MatchError extends Error {}

function fail(path: string, message: string): never {
  throw new MatchError(`${path || "<root>"}: ${message}`);
}

function show(value: unknown): string {
  try {
    return EJSON.stringify(value as Document, { relaxed: true });
  } catch {
    return String(value);
  }
}

export interface MatchContext {
  entities: Map<string, unknown>;
}

function specialOperator(
  expected: Document,
  actual: unknown,
  present: boolean,
  path: string,
  ctx: MatchContext,
  root: boolean,
): void {
  const [op] = Object.keys(expected);
  const arg = expected[op!];
  switch (op) {
    case "$$exists":
      if (arg !== present) fail(path, `expected ${arg ? "present" : "absent"}`);
      return;
    case "$$unsetOrMatches":
      if (!present || actual === undefined) return;
      match(arg, actual, path, root, ctx);
      return;
    case "$$type": {
      if (!present) fail(path, "missing");
      const types = Array.isArray(arg) ? arg : [arg];
      if (!types.some((t: string) => typeMatches(t, actual)))
        fail(path, `expected type ${types.join("|")}, got ${show(actual)}`);
      return;
    }
    case "$$lte":
      if ((numeric(actual) ?? Number.NaN) > (numeric(arg) ?? Number.NaN))
        fail(path, `expected <= ${arg}`);
      return;
    case "$$sessionLsid":
    case "$$matchesEntity": {
      if (!present) fail(path, "missing");
      const entity = ctx.entities.get(String(arg));
      const expectedValue =
        op === "$$sessionLsid" ? (entity as ClientSession | undefined)?.id : entity;
      match(expectedValue, actual, path, false, ctx);
      return;
    }
    case "$$matchAsDocument": {
      const parsed = typeof actual === "string" ? EJSON.parse(actual) : actual;
      match(arg, parsed, path, false, ctx);
      return;
    }
    case "$$matchAsRoot":
      match(arg, actual, path, true, ctx);
      return;
    default:
      fail(path, `unsupported special operator ${op}`);
  }
}

const isSpecial = (value: unknown): value is Document =>
  isDocument(value) && Object.keys(value).length === 1 && Object.keys(value)[0]!.startsWith("$$");

export function match(
  expected: unknown,
  rawActual: unknown,
  path: string,
  root: boolean,
  ctx: MatchContext,
): void {
  // The driver sends sort specifications as Maps.
  const actual = rawActual instanceof Map ? Object.fromEntries(rawActual) : rawActual;
  if (isDocument(expected)) {
    if (isSpecial(expected)) {
      specialOperator(expected, actual, actual !== undefined, path, ctx, root);
      return;
    }
    if (!isDocument(actual)) fail(path, `expected a document, got ${show(actual)}`);
    for (const [key, value] of Object.entries(expected)) {
      const present = Object.hasOwn(actual, key) && actual[key] !== undefined;
      if (isSpecial(value)) {
        specialOperator(value, actual[key], present, `${path}.${key}`, ctx, false);
        continue;
      }
      if (!present) fail(`${path}.${key}`, "missing");
      match(value, actual[key], `${path}.${key}`, false, ctx);
    }
    if (!root) {
      for (const key of Object.keys(actual)) {
        if (!(key in expected) && actual[key] !== undefined) fail(`${path}.${key}`, "unexpected");
      }
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) fail(path, `expected an array, got ${show(actual)}`);
    if (actual.length !== expected.length)
      fail(path, `expected ${expected.length} elements, got ${actual.length}: ${show(actual)}`);
    expected.forEach((v, i) => {
      match(v, actual[i], `${path}[${i}]`, false, ctx);
    });
    return;
  }
  const e = numeric(expected);
  if (e !== undefined) {
    const a = numeric(actual);
    if (a === undefined || !(a === e || (Number.isNaN(a) && Number.isNaN(e))))
      fail(path, `expected ${show(expected)}, got ${show(actual)}`);
    return;
  }
  if (show(expected) !== show(actual))
    fail(path, `expected ${show(expected)}, got ${show(actual)}`);
}

// ---------------------------------------------------------------------------------------------
// Entities and operations

interface ClientEntity {
  client: MongoClient;
  events: { type: string; event: CommandStartedEvent | CommandSucceededEvent }[];
}

export interface RunContext {
  uri: string;
  entities: Map<string, unknown>;
  clients: Map<string, ClientEntity>;
  internal: MongoClient;
}

export async function createEntities(ctx: RunContext, specs: Document[] | undefined) {
  for (const spec of specs ?? []) {
    const [kind] = Object.keys(spec);
    const e = spec[kind!] as Document;
    if (kind === "client") {
      const options: MongoClientOptions = {
        ...(e.uriOptions ?? {}),
        monitorCommands: true,
        serverSelectionTimeoutMS: 10_000,
      };
      const client = new MongoClient(ctx.uri, options);
      const entity: ClientEntity = { client, events: [] };
      const observed = new Set<string>(e.observeEvents ?? []);
      const ignored = new Set<string>([
        ...(e.ignoreCommandMonitoringEvents ?? []),
        "configureFailPoint",
      ]);
      client.on("commandStarted", (event) => {
        if (observed.has("commandStartedEvent") && !ignored.has(event.commandName))
          entity.events.push({ type: "commandStartedEvent", event });
      });
      client.on("commandSucceeded", (event) => {
        if (observed.has("commandSucceededEvent") && !ignored.has(event.commandName))
          entity.events.push({ type: "commandSucceededEvent", event });
      });
      await client.connect();
      ctx.clients.set(e.id, entity);
      ctx.entities.set(e.id, client);
    } else if (kind === "database") {
      const client = ctx.entities.get(e.client) as MongoClient;
      ctx.entities.set(e.id, client.db(e.databaseName, e.databaseOptions));
    } else if (kind === "collection") {
      const db = ctx.entities.get(e.database) as Db;
      ctx.entities.set(e.id, db.collection(e.collectionName, e.collectionOptions));
    } else if (kind === "session") {
      const client = ctx.entities.get(e.client) as MongoClient;
      ctx.entities.set(e.id, client.startSession(e.sessionOptions));
    } else {
      throw new Error(`unsupported entity ${kind}`);
    }
  }
}

export async function loadInitialData(ctx: RunContext, data: Document[] | undefined) {
  for (const item of data ?? []) {
    const db = ctx.internal.db(item.databaseName);
    await db.dropCollection(item.collectionName).catch(() => undefined);
    await db.createCollection(item.collectionName, item.createOptions ?? {});
    if (item.documents.length) await db.collection(item.collectionName).insertMany(item.documents);
  }
}

function withoutKeys(args: Document, ...keys: string[]): Document {
  const out: Document = {};
  for (const [k, v] of Object.entries(args)) if (!keys.includes(k)) out[k] = v;
  return out;
}

function returnDocument(args: Document): Document {
  const out = withoutKeys(args, "filter", "update", "replacement");
  if (typeof out.returnDocument === "string") out.returnDocument = out.returnDocument.toLowerCase();
  return out;
}

function bulkResult(r: Document): Document | undefined {
  if (r.acknowledged === false) return undefined;
  return {
    insertedCount: r.insertedCount,
    matchedCount: r.matchedCount,
    modifiedCount: r.modifiedCount,
    deletedCount: r.deletedCount,
    upsertedCount: r.upsertedCount,
    insertedIds: r.insertedIds,
    upsertedIds: r.upsertedIds,
  };
}

function updateResult(r: Document): Document | undefined {
  if (r.acknowledged === false) return undefined;
  const out: Document = {
    matchedCount: r.matchedCount,
    modifiedCount: r.modifiedCount,
    upsertedCount: r.upsertedCount,
  };
  if (r.upsertedId !== null && r.upsertedId !== undefined) out.upsertedId = r.upsertedId;
  return out;
}

/** Runs one operation; returns what expectResult is matched against. */
export async function runOperation(ctx: RunContext, op: Document): Promise<unknown> {
  const target = ctx.entities.get(op.object);
  const args: Document = op.arguments ?? {};
  if (args.session) args.session = ctx.entities.get(args.session);
  if (op.object === "testRunner") {
    if (op.name === "failPoint") {
      const client = ctx.entities.get(args.client) as MongoClient;
      await client.db("admin").command(args.failPoint);
      return undefined;
    }
    throw new Error(`unsupported testRunner operation ${op.name}`);
  }
  if (target instanceof MongoClient) {
    if (op.name === "clientBulkWrite") {
      const { models, ...options } = args;
      // The spec spells a model `{ insertOne: {...} }`; the driver `{ name: "insertOne", ... }`.
      const driverModels = (models as Document[]).map((m) => {
        const [name] = Object.keys(m);
        return { name, ...m[name!] };
      });
      return target.bulkWrite(driverModels as never, options);
    }
    throw new Error(`unsupported client operation ${op.name}`);
  }
  if (op.object.startsWith("database") || (target as Db)?.constructor?.name === "Db") {
    const db = target as Db;
    switch (op.name) {
      case "aggregate":
        return db.aggregate(args.pipeline, withoutKeys(args, "pipeline")).toArray();
      case "createCollection":
        await db.createCollection(args.collection, withoutKeys(args, "collection"));
        return undefined;
      case "dropCollection":
        return db.dropCollection(args.collection, withoutKeys(args, "collection"));
      case "modifyCollection":
        return db.command({ collMod: args.collection, ...withoutKeys(args, "collection") });
      case "runCommand":
        return db.command(args.command);
      default:
        throw new Error(`unsupported database operation ${op.name}`);
    }
  }
  const coll = target as Collection;
  switch (op.name) {
    case "aggregate":
      return coll.aggregate(args.pipeline, withoutKeys(args, "pipeline")).toArray();
    case "find":
      return coll.find(args.filter, withoutKeys(args, "filter")).toArray();
    case "findOne":
      return coll.findOne(args.filter, withoutKeys(args, "filter"));
    case "countDocuments":
      return coll.countDocuments(args.filter, withoutKeys(args, "filter"));
    case "count":
      return coll.count(args.filter, withoutKeys(args, "filter"));
    case "estimatedDocumentCount":
      return coll.estimatedDocumentCount(args);
    case "distinct":
      return coll.distinct(args.fieldName, args.filter, withoutKeys(args, "fieldName", "filter"));
    case "insertOne": {
      const r = await coll.insertOne(args.document, withoutKeys(args, "document"));
      return r.acknowledged ? { insertedId: r.insertedId } : undefined;
    }
    case "insertMany": {
      const r = await coll.insertMany(args.documents, withoutKeys(args, "documents"));
      return r.acknowledged ? { insertedIds: r.insertedIds } : undefined;
    }
    case "updateOne":
      return updateResult(
        await coll.updateOne(args.filter, args.update, withoutKeys(args, "filter", "update")),
      );
    case "updateMany":
      return updateResult(
        await coll.updateMany(args.filter, args.update, withoutKeys(args, "filter", "update")),
      );
    case "replaceOne":
      return updateResult(
        await coll.replaceOne(
          args.filter,
          args.replacement,
          withoutKeys(args, "filter", "replacement"),
        ),
      );
    case "deleteOne": {
      const r = await coll.deleteOne(args.filter, withoutKeys(args, "filter"));
      return r.acknowledged ? { deletedCount: r.deletedCount } : undefined;
    }
    case "deleteMany": {
      const r = await coll.deleteMany(args.filter, withoutKeys(args, "filter"));
      return r.acknowledged ? { deletedCount: r.deletedCount } : undefined;
    }
    case "findOneAndDelete":
      return coll.findOneAndDelete(args.filter, returnDocument(args));
    case "findOneAndUpdate":
      return coll.findOneAndUpdate(args.filter, args.update, returnDocument(args));
    case "findOneAndReplace":
      return coll.findOneAndReplace(args.filter, args.replacement, returnDocument(args));
    case "bulkWrite":
      return bulkResult(
        await coll.bulkWrite(
          args.requests as AnyBulkWriteOperation[],
          withoutKeys(args, "requests"),
        ),
      );
    case "createIndex":
      return coll.createIndex(args.keys, withoutKeys(args, "keys"));
    case "drop":
      return coll.drop();
    default:
      throw new Error(`unsupported collection operation ${op.name}`);
  }
}

function isClientError(error: unknown): boolean {
  return !(error instanceof MongoServerError) && !(error as { code?: unknown })?.code;
}

/**
 * Tests whose outcome the Node driver decides before anything reaches a server, so no store
 * can pass them with this driver: it leaves `bypassDocumentValidation: false` out of the
 * commands it sends, and replaces an `_id` of null by a new ObjectId before inserting.
 */
export function driverDeviation(fileName: string, test: UnifiedTest): string | undefined {
  // Operations whose `bypassDocumentValidation: false` the driver (v7) does not send.
  const dropsBypassFalse =
    /^(Aggregate with \$out|BulkWrite|FindOneAndReplace|FindOneAndUpdate|InsertMany) passes bypassDocumentValidation: false$/;
  if (fileName === "bypassDocumentValidation.json" && dropsBypassFalse.test(test.description))
    return "Node driver omits bypassDocumentValidation: false";
  if (
    fileName === "create-null-ids.json" &&
    /via (insertOne|insertMany|bulkWrite)$/.test(test.description)
  )
    return "Node driver replaces a null _id by an ObjectId";
  return undefined;
}

export function checkError(ctx: RunContext, expected: Document, error: unknown): void {
  const m: MatchContext = { entities: ctx.entities };
  const e = error as Document;
  if (expected.isClientError === true && !isClientError(error))
    fail("error", `expected a client error, got server error ${e.code}: ${e.message}`);
  if (expected.isClientError === false && isClientError(error))
    fail("error", `expected a server error, got ${e.message}`);
  if (expected.errorContains !== undefined) {
    const text = String(e.message ?? "").toLowerCase();
    if (!text.includes(String(expected.errorContains).toLowerCase()))
      fail("error", `message "${e.message}" lacks "${expected.errorContains}"`);
  }
  if (expected.errorCode !== undefined && e.code !== expected.errorCode)
    fail("error", `expected code ${expected.errorCode}, got ${e.code} (${e.message})`);
  if (expected.errorCodeName !== undefined && e.codeName !== expected.errorCodeName)
    fail("error", `expected codeName ${expected.errorCodeName}, got ${e.codeName}`);
  if (expected.errorLabelsContain) {
    for (const label of expected.errorLabelsContain)
      if (!e.hasErrorLabel?.(label)) fail("error", `missing label ${label}`);
  }
  if (expected.errorResponse !== undefined)
    match(expected.errorResponse, e.errorResponse ?? e, "errorResponse", true, m);
  if (expected.expectResult !== undefined) {
    const partial = e.result ?? e.partialResult;
    match(expected.expectResult, partial ? bulkResult(partial) : undefined, "partial", true, m);
  }
  if (expected.writeErrors !== undefined) {
    const list = e.writeErrors ?? [];
    for (const [index, value] of Object.entries(expected.writeErrors as Document)) {
      match(
        value,
        list.get?.(Number(index)) ?? list[Number(index)],
        `writeErrors.${index}`,
        true,
        m,
      );
    }
  }
}

export function checkEvents(ctx: RunContext, expected: Document[]): void {
  const m: MatchContext = { entities: ctx.entities };
  for (const block of expected) {
    if (block.eventType && block.eventType !== "command") continue;
    const entity = ctx.clients.get(block.client);
    if (!entity) fail("events", `no client ${block.client}`);
    const actual = entity.events;
    const wanted = block.events as Document[];
    if (block.ignoreExtraEvents ? actual.length < wanted.length : actual.length !== wanted.length)
      fail(
        "events",
        `expected ${wanted.length} events, got ${actual.length}: ${actual.map((a) => a.event.commandName).join(",")}`,
      );
    wanted.forEach((w, i) => {
      const [type] = Object.keys(w);
      const a = actual[i]!;
      if (a.type !== type) fail(`events[${i}]`, `expected ${type}, got ${a.type}`);
      const spec = w[type!] as Document;
      if (type === "commandStartedEvent") {
        const started = a.event as CommandStartedEvent;
        if (spec.commandName && spec.commandName !== started.commandName)
          fail(`events[${i}]`, `expected ${spec.commandName}, got ${started.commandName}`);
        if (spec.databaseName && spec.databaseName !== started.databaseName)
          fail(`events[${i}]`, `expected db ${spec.databaseName}, got ${started.databaseName}`);
        if (spec.command) match(spec.command, started.command, `events[${i}].command`, true, m);
      } else {
        const succeeded = a.event as CommandSucceededEvent;
        if (spec.commandName && spec.commandName !== succeeded.commandName)
          fail(`events[${i}]`, `expected ${spec.commandName}, got ${succeeded.commandName}`);
        if (spec.reply) match(spec.reply, succeeded.reply, `events[${i}].reply`, true, m);
      }
    });
  }
}

export async function checkOutcome(ctx: RunContext, outcome: Document[]): Promise<void> {
  const m: MatchContext = { entities: ctx.entities };
  for (const item of outcome) {
    const docs = await ctx.internal
      .db(item.databaseName)
      .collection(item.collectionName)
      .find({}, { sort: { _id: 1 } })
      .toArray();
    match(item.documents, docs, `outcome.${item.collectionName}`, false, m);
  }
}

/** Runs one test of a file end to end; throws MatchError (or the operation's error) on failure. */
export async function runUnifiedTest(uri: string, file: UnifiedFile, test: UnifiedTest) {
  const internal = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await internal.connect();
  const ctx: RunContext = { uri, entities: new Map(), clients: new Map(), internal };
  try {
    await loadInitialData(ctx, file.initialData);
    await createEntities(ctx, file.createEntities);
    for (const op of test.operations) {
      let result: unknown;
      let error: unknown;
      try {
        result = await runOperation(ctx, op);
      } catch (e) {
        error = e;
      }
      if (op.expectError) {
        if (error === undefined)
          fail(`${op.name}`, `expected an error, got ${show(result as Document)}`);
        checkError(ctx, op.expectError, error);
      } else if (error !== undefined) {
        throw error;
      } else if (op.expectResult !== undefined) {
        const root = !Array.isArray(op.expectResult);
        const m: MatchContext = { entities: ctx.entities };
        if (!root && Array.isArray(result) && ["find", "aggregate"].includes(op.name)) {
          if (result.length !== op.expectResult.length)
            fail(op.name, `expected ${op.expectResult.length} documents, got ${show(result)}`);
          op.expectResult.forEach((d: unknown, i: number) => {
            match(d, result[i], `${op.name}[${i}]`, true, m);
          });
        } else {
          match(op.expectResult, result, op.name, root, m);
        }
      }
    }
    if (test.expectEvents) checkEvents(ctx, test.expectEvents);
    if (test.outcome) await checkOutcome(ctx, test.outcome);
  } finally {
    for (const value of ctx.entities.values()) {
      if ((value as ClientSession)?.endSession && !(value instanceof MongoClient))
        await (value as ClientSession).endSession().catch(() => undefined);
    }
    for (const { client } of ctx.clients.values()) await client.close();
    // Leave no fail point behind for the next test.
    await internal
      .db("admin")
      .command({ configureFailPoint: "failCommand", mode: "off" })
      .catch(() => undefined);
    await internal.close();
  }
}
