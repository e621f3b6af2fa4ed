import type { Document } from "bson";
import { isPlainObject } from "../bson-values.js";
import { badValue } from "../errors.js";
import { matchesKeyPattern } from "../index-spec.js";
import { type CommandContext, collectionName } from "./context.js";

/**
 * Validates a `hint` like mongod (it must name an existing index). The planner still chooses
 * its own plan: with an in-memory store a hint cannot change results, only speed.
 */
export function checkHint(ctx: CommandContext, hint: unknown): void {
  if (hint === undefined || hint === null) return;
  if (typeof hint === "string" && hint.length === 0) return;
  if (isPlainObject(hint) && (Object.keys(hint).length === 0 || "$natural" in hint)) return;
  const collection = ctx.server.catalog.get(ctx.db, collectionName(ctx));
  if (!collection) return;
  const found = collection.indexes.some((ix) =>
    typeof hint === "string" ? ix.spec.name === hint : matchesKeyPattern(ix.spec, hint as Document),
  );
  if (!found) throw badValue("hint provided does not correspond to an existing index");
}
