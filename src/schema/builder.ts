import SchemaBuilder from "@pothos/core";
import ErrorsPlugin from "@pothos/plugin-errors";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { DateTimeResolver, JSONObjectResolver } from "graphql-scalars";
import type { RequestContext } from "../context.js";
import { ForbiddenError, ValidationError } from "../errors.js";
import { type AuthScopes, scopesOf } from "./scopes.js";

/** `nodes(ids)` fetches at most this many objects per call, like a connection page. */
const MAX_NODES = 200;

export interface LoopgateSchemaTypes {
  Context: RequestContext;
  AuthScopes: AuthScopes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    ID: { Input: string; Output: string | number };
  };
}

/** The builder's full type set, for helpers that take Pothos field-builder callbacks. */
export type BuilderTypes = PothosSchemaTypes.ExtendDefaultTypes<LoopgateSchemaTypes>;

/**
 * Plugin order is deliberate; Pothos wraps resolvers so that earlier plugins run first:
 * 1. relay: parses global IDs before anything else sees the arguments, so auth checks and
 *    resolvers get `{ typename, id }` and never raw base64.
 * 2. errors: wraps everything after it, so a ForbiddenError thrown by scope-auth becomes the same
 *    typed union result as a domain error on fields that declare error types.
 * 3. scope-auth: runs before any resolver or loader touches the database.
 * Not registered, on purpose: the dataloader plugin (request-scoped loaders live in
 * store/loaders.ts, where the batching queries sit next to the indexes they rely on), validation
 * (zod in the services, because jobs and the CLI call the same services and need the same checks)
 * and complexity (graphql-armor's cost limit guards the whole document before execution).
 */
export const builder = new SchemaBuilder<LoopgateSchemaTypes>({
  plugins: [RelayPlugin, ErrorsPlugin, ScopeAuthPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    nodeQueryOptions: {
      description: "Fetches any object that has a global ID (Relay's node interface).",
      authScopes: { read: true },
      args: { id: { description: "The object's global ID." } },
    },
    nodesQueryOptions: {
      description: "Fetches several objects by global ID, in the order given.",
      authScopes: { read: true },
      args: { ids: { description: "The objects' global IDs (at most 200)." } },
      resolve: (_root, args, _context, _info, resolveNodes) => {
        if (args.ids.length > MAX_NODES) {
          throw new ValidationError([
            { path: "ids", message: `at most ${MAX_NODES} ids per request` },
          ]);
        }
        return resolveNodes(args.ids);
      },
    },
    nodeTypeOptions: { description: "An object with a globally unique, opaque ID." },
    pageInfoTypeOptions: { description: "Where a page sits within a connection (Relay)." },
    idFieldOptions: { description: "Globally unique, opaque ID." },
    edgesFieldOptions: { description: "The items of this page, each with its cursor." },
    pageInfoFieldOptions: {
      description: "Where this page sits, for fetching the next or previous one.",
    },
    cursorFieldOptions: {
      description: "Opaque position of this item; pass it as `after` or `before`.",
    },
    nodeFieldOptions: { description: "The item." },
    hasNextPageFieldOptions: { description: "Whether more items follow this page." },
    hasPreviousPageFieldOptions: { description: "Whether items precede this page." },
    startCursorFieldOptions: { description: "Cursor of the first item of this page." },
    endCursorFieldOptions: { description: "Cursor of the last item of this page." },
    firstArgOptions: { description: "Page size when paging forwards (default 20, at most 200)." },
    afterArgOptions: { description: "Return items after this cursor." },
    lastArgOptions: { description: "Page size when paging backwards (at most 200)." },
    beforeArgOptions: { description: "Return items before this cursor." },
  },
  errors: { defaultTypes: [] },
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (context) => scopesOf(context.principal),
    unauthorizedError: (_parent, context, info) =>
      new ForbiddenError(
        context.principal.kind === "anonymous"
          ? `${info.parentType.name}.${info.fieldName} needs an API key (Authorization: Bearer <key>)`
          : `${info.parentType.name}.${info.fieldName} is not allowed for this credential`,
      ),
  },
});

builder.addScalarType("DateTime", DateTimeResolver, {
  description: "An instant in time, as an ISO 8601 string in UTC (e.g. 2026-11-26T13:36:00Z).",
});
builder.addScalarType("JSONObject", JSONObjectResolver, {
  description: "A free-form JSON object.",
});
