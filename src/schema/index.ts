import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "./builder.js";
// Type files and root fields register themselves on the builder when imported; the order only
// matters for readability of the printed schema, which is sorted anyway.
import "./errors.js";
import "./enums.js";
import "./common.js";
import "./system.js";
import "./interaction.js";
import "./feedback.js";
import "./analytics.js";
import "./admin.js";
import "./payloads.js";
import "./alerts.js";
import "../resolvers/system.js";
import "../resolvers/interactions.js";
import "../resolvers/feedback.js";
import "../resolvers/analytics.js";
import "../resolvers/admin.js";
import "../resolvers/alerts.js";

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
