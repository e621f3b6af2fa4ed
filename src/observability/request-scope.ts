import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/**
 * The request id travels in async-local storage so that every log line written while serving a
 * request (including errors masked deep inside GraphQL execution) carries it without threading
 * it through every call.
 */
export interface RequestScope {
  readonly requestId: string;
}

export interface RequestScopes {
  run<T>(scope: RequestScope, fn: () => T): T;
  current(): RequestScope | undefined;
}

export function createRequestScopes(): RequestScopes {
  const storage = new AsyncLocalStorage<RequestScope>();
  return {
    run: (scope, fn) => storage.run(scope, fn),
    current: () => storage.getStore(),
  };
}

const acceptableRequestId = /^[\w.:-]{1,128}$/;

/** Honours a caller's `x-request-id` (so traces join up across services) when it is sane. */
export function requestIdFrom(header: string | null | undefined): string {
  return header && acceptableRequestId.test(header) ? header : randomUUID();
}
