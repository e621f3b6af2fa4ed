import type { Document } from "bson";
import { CommandError, commandError } from "../errors.js";
import { adminCommands } from "./admin.js";
import { aggregateCommands } from "./aggregate.js";
import { collectionCommands } from "./collections.js";
import type { CommandDefinition, ConnectionInfo, ServerState } from "./context.js";
import { crudCommands } from "./crud.js";
import { explainCommands } from "./explain.js";
import { indexCommands } from "./indexes.js";
import { queryCommands } from "./query.js";

export type { ConnectionInfo, ServerState } from "./context.js";

const COMMANDS: ReadonlyMap<string, CommandDefinition> = new Map(
  Object.entries({
    ...adminCommands,
    ...crudCommands,
    ...queryCommands,
    ...collectionCommands,
    ...indexCommands,
    ...aggregateCommands,
    ...explainCommands,
  }),
);

/** A standalone mongod refuses anything that belongs to a transaction. */
function isTransactional(body: Document): boolean {
  return (
    body.txnNumber !== undefined || body.startTransaction !== undefined || body.autocommit === false
  );
}

/**
 * Executes one command and always returns a reply document: failures become
 * `{ ok: 0, errmsg, code, codeName }` exactly as mongod shapes them.
 */
export function runCommand(
  server: ServerState,
  connection: ConnectionInfo,
  body: Document,
): Document {
  const name = Object.keys(body)[0] ?? "";
  try {
    const db = body.$db;
    if (typeof db !== "string")
      throw new CommandError(40571, "OP_MSG requests require a $db argument");
    if (isTransactional(body)) {
      throw commandError(
        "IllegalOperation",
        "Transaction numbers are only allowed on a replica set member or mongos",
      );
    }
    const definition = COMMANDS.get(name);
    if (!definition) throw commandError("CommandNotFound", `no such command: '${name}'`);
    if (definition.adminOnly && db !== "admin") {
      throw commandError("Unauthorized", `${name} may only be run against the admin database.`);
    }
    return definition.handler({ db, body, name, server, connection });
  } catch (error) {
    if (error instanceof CommandError) return error.toReply();
    server.logger?.error({ err: error, command: name }, "embedded store command failed");
    const message = error instanceof Error ? error.message : String(error);
    return { ok: 0, errmsg: message, code: 1, codeName: "InternalError" };
  }
}
