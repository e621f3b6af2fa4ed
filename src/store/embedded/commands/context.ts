import type { Document } from "bson";
import type { Logger } from "pino";
import { isNumeric, numericKind, toNumber } from "../bson-numbers.js";
import { bsonTypeName } from "../bson-types.js";
import { isPlainObject } from "../bson-values.js";
import type { Catalog } from "../catalog.js";
import type { CursorRegistry } from "../cursors.js";
import { CommandError, commandError } from "../errors.js";
import type { QueryEngine } from "../mingo-engine.js";
import type { ServerParameters } from "../parameters.js";
import type { Storage } from "../storage.js";

/** Everything a command handler may use; one per server, no globals. */
export interface ServerState {
  readonly catalog: Catalog;
  readonly engine: QueryEngine;
  readonly cursors: CursorRegistry;
  readonly parameters: ServerParameters;
  readonly storage: Storage;
  readonly now: () => Date;
  readonly logger: Logger | undefined;
  readonly startedAt: Date;
  readonly host: string;
  readonly port: number;
  readonly dbPath: string;
  connectionCount(): number;
  totalConnections(): number;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly remote: string;
}

export interface CommandContext {
  /** Database the command targets (`$db`). */
  readonly db: string;
  readonly body: Document;
  readonly name: string;
  readonly server: ServerState;
  readonly connection: ConnectionInfo;
}

export type CommandHandler = (ctx: CommandContext) => Document;

export interface CommandDefinition {
  readonly handler: CommandHandler;
  /** mongod refuses these outside the admin database (code 13). */
  readonly adminOnly?: boolean;
}

/** The collection named by the command's first field, validated as mongod does. */
export function collectionName(ctx: CommandContext): string {
  const value = ctx.body[ctx.name];
  if (typeof value !== "string") {
    throw new CommandError(73, `collection name has invalid type ${bsonTypeName(value)}`);
  }
  if (value.length === 0 || value.includes("\0") || value.includes("$")) {
    throw commandError("InvalidNamespace", `Invalid namespace specified '${ctx.db}.${value}'`);
  }
  return value;
}

export function optionalDocument(body: Document, field: string): Document | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) {
    throw commandError(
      "TypeMismatch",
      `BSON field '${field}' is the wrong type '${bsonTypeName(value)}', expected type 'object'`,
    );
  }
  return value;
}

export function optionalNumber(body: Document, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isNumeric(value)) {
    throw commandError(
      "TypeMismatch",
      `BSON field '${field}' is the wrong type '${bsonTypeName(value)}', expected types '[long, int, decimal, double]'`,
    );
  }
  return toNumber(value);
}

export function optionalBoolean(body: Document, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  if (isNumeric(value)) return toNumber(value) !== 0;
  throw commandError(
    "TypeMismatch",
    `BSON field '${field}' is the wrong type '${bsonTypeName(value)}', expected type 'bool'`,
  );
}

export function cursorReply(ns: string, id: bigint, batch: Document[], first: boolean): Document {
  return {
    cursor: first ? { firstBatch: batch, id, ns } : { nextBatch: batch, id, ns },
    ok: 1,
  };
}

/** A cursor id as sent by drivers (int64, or a plain number from hand-written commands). */
export function cursorIdOf(value: unknown): bigint | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (isNumeric(value) && numericKind(value) === "long") return BigInt(String(value));
  return undefined;
}

/** batchSize from a cursor option document ({ cursor: { batchSize } }) or a find/getMore field. */
export function batchSizeOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = toNumber(value) ?? Number.NaN;
  if (!Number.isFinite(n) || n < 0)
    throw commandError("BadValue", "batchSize must be non-negative");
  return n;
}
