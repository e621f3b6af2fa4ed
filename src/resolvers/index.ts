import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "../schema/builder.js";
// Type files and root fields register themselves on the builder when imported; the order only
// matters for readability of the printed schema, which is sorted anyway.
import "../schema/errors.js";
import "../schema/enums.js";
import "../schema/common.js";
import "../schema/system.js";
import "../schema/interactions.js";
import "../schema/feedback.js";
import "../schema/analytics.js";
import "../schema/admin.js";
import "../schema/payloads.js";
import "./system.js";
import "./interactions.js";
import "./feedback.js";
import "./analytics.js";
import "./admin.js";

let schema: GraphQLSchema | undefined;

/** The executable schema; built once, because the builder is shared module state. */
export function buildSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The schema as SDL, sorted so the committed `schema.graphql` diffs cleanly. */
export function printSchemaSdl(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}
