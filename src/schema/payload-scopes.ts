import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  getNamedType,
  getOperationAST,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { RequestContext } from "../context.js";
import { type AuthScopes, satisfies, scopesOf } from "./scopes.js";

/**
 * Refuses, before anything executes, a mutation whose answer selects a field the credential may
 * not read (e.g. an INGEST key selecting the judged interaction's response, or other raters'
 * feedback). Checked at resolve time instead, the refused field would turn the committed write's
 * whole payload into `data: null`, and clients retry writes that did happen; refused up front,
 * nothing is written and the error names every field to drop.
 *
 * Root fields are left to their own scope checks, which run before their resolvers write. Nested
 * requirements decided per value (a function) cannot be known up front; none is declared on a
 * type a mutation returns, and the resolve-time check still guards them.
 */
export function payloadScopesPlugin(): Plugin<RequestContext> {
  const typeInfos = new WeakMap<GraphQLSchema, TypeInfo>();
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== "mutation") return;
      let typeInfo = typeInfos.get(args.schema);
      if (!typeInfo) {
        typeInfo = new TypeInfo(args.schema);
        typeInfos.set(args.schema, typeInfo);
      }
      const refused = refusedFields(
        args.schema,
        operation,
        args.document,
        typeInfo,
        scopesOf(args.contextValue.principal),
      );
      if (refused.length === 0) return;
      const anonymous = args.contextValue.principal.kind === "anonymous";
      setResultAndStopExecution({
        errors: refused.map(
          (coordinate) =>
            new GraphQLError(
              anonymous
                ? `${coordinate} needs an API key (Authorization: Bearer <key>); nothing was written`
                : `${coordinate} is not allowed for this credential: a write's answer shows what the credential sent and what the write did; select it with a READ key or drop it from the selection (nothing was written)`,
              { extensions: { code: "FORBIDDEN" } },
            ),
        ),
      });
    },
  };
}

/** `Type.field` of every selected non-root field (or its type) the held scopes do not satisfy. */
function refusedFields(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  document: DocumentNode,
  typeInfo: TypeInfo,
  held: AuthScopes,
): string[] {
  const refused = new Set<string>();
  const mutationType = schema.getMutationType();
  const fragments = new Map(
    document.definitions
      .filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((definition) => [definition.name.value, definition]),
  );
  // The operation and the fragments it spreads, each once; other operations of the document
  // are not executed and not checked.
  const pending: Array<OperationDefinitionNode | FragmentDefinitionNode> = [operation];
  const seen = new Set<string>();
  for (let node = pending.pop(); node; node = pending.pop()) {
    visit(
      node,
      visitWithTypeInfo(typeInfo, {
        FragmentSpread(spread) {
          const name = spread.name.value;
          const fragment = fragments.get(name);
          if (fragment && !seen.has(name)) {
            seen.add(name);
            pending.push(fragment);
          }
        },
        Field() {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          if (!parent || !field || parent === mutationType) return;
          const coordinate = `${parent.name}.${field.name}`;
          const own = (field.extensions as { pothosOptions?: { authScopes?: unknown } })
            .pothosOptions?.authScopes;
          if (satisfies(own, held) === false) refused.add(coordinate);
          const type = getNamedType(field.type);
          if (isObjectType(type)) {
            const ofType = (type.extensions as { pothosOptions?: { authScopes?: unknown } })
              .pothosOptions?.authScopes;
            if (satisfies(ofType, held) === false) refused.add(coordinate);
          }
        },
      }),
    );
  }
  return [...refused];
}
