import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "../schema/builder.js";
// Each area is one schema file (its types) and one resolvers file (its root fields); they register
// themselves on the builder when imported. schema/ never imports resolvers/: this file joins them.
import "../schema/errors.js";
import "../schema/common.js";
import "../schema/system.js";
import "../schema/interactions.js";
import "../schema/feedback.js";
import "../schema/conflicts.js";
import "../schema/analytics.js";
import "../schema/auth.js";
import "../schema/privacy.js";
import "../schema/jobs.js";
import "../schema/alerts.js";
import "../schema/judges.js";
import "../schema/datasets.js";
import "./system.js";
import "./interactions.js";
import "./feedback.js";
import "./conflicts.js";
import "./analytics.js";
import "./auth.js";
import "./privacy.js";
import "./jobs.js";
import "./alerts.js";
import "./judges.js";
import "./pipeline.js";
import "./datasets.js";
import "../schema/integrations.js";
import "./integrations.js";

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
