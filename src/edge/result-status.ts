import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * Makes statuses follow the GraphQL-over-HTTP spec the same way for every kind of error:
 * - a request error (nothing executed: parse, validation or variable coercion) carries a code and
 *   is 400 for `application/graphql-response+json` and 200 for legacy `application/json`, whether
 *   a wrong value came inline or through variables;
 * - a response that carries data is 2xx even when a field failed (e.g. the database went away
 *   while a committed write's payload was being read): the committed write is never answered as a
 *   failure. Only a response without data takes an error's 4xx/5xx status (e.g. 503).
 */
export function resultStatusPlugin(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || isAsyncIterable(result) || !result.errors?.length) return;
      const hasData = result.data !== null && result.data !== undefined;
      const requestError = !("data" in result);
      let changed = false;
      const errors = result.errors.map((error) => {
        if (!(error instanceof GraphQLError)) return error;
        const extensions = { ...error.extensions } as Record<string, unknown>;
        if (requestError && extensions.code === undefined) {
          // graphql-js reports variable coercion without a code; inline mistakes carry one.
          extensions.code = error.message.startsWith('Variable "$')
            ? "BAD_USER_INPUT"
            : "BAD_REQUEST";
          const http = extensions.http as { status?: number } | undefined;
          // Another status (405 for a mutation over GET, …) stays; a plain 400 follows the spec.
          if (!http?.status || http.status === 400) extensions.http = { status: 400, spec: true };
        } else if (hasData && extensions.http) {
          delete extensions.http;
        } else {
          return error;
        }
        changed = true;
        return new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          path: error.path,
          originalError: error.originalError,
          extensions,
        });
      });
      if (changed) setResult({ ...result, errors });
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof (value as { [Symbol.asyncIterator]?: unknown })?.[Symbol.asyncIterator] === "function"
  );
}
