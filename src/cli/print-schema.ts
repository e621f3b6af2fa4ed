import { writeFile } from "node:fs/promises";
import { printSchemaSdl } from "../resolvers/index.js";

/** Writes schema.graphql, the committed contract CI compares against the code. */
const target = new URL("../../schema.graphql", import.meta.url);
await writeFile(target, printSchemaSdl());
process.stdout.write(`wrote ${target.pathname}\n`);
