import JSONParser from "@streamparser/json/jsonparser.js";
import { GraphQLError, Kind, parse, type SelectionSetNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Principal } from "./auth/actor.js";
import { decodeJsonBody } from "./edge/request-parsing.js";

/**
 * Request body limits, enforced while the body streams in: a request over its limit is answered
 * 413 as soon as that is known (at once from Content-Length, else when the limit is crossed),
 * without buffering the rest. Bodies up to `default` are read as they are; a larger body must be
 * a JSON request whose `query` comes before its `variables` (as every GraphQL client sends it):
 * the operation is read from the body's first bytes and decides how much more may follow.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

export const BODY_LIMITS = {
  /** Requests without a credential: GraphiQL's introspection and health probes fit. */
  anonymous: 16 * KiB,
  /** Queries, administration, and the start of every larger body. */
  default: 64 * KiB,
  /** One feedback: a correction or a comparison's inline texts are at most 100,000 characters. */
  feedback: 1 * MiB,
  /** One interaction: query, response and messages are at most 4 Mi characters together. */
  interaction: 16 * MiB,
  /** A batch of at most 500 interactions. */
  batch: 32 * MiB,
} as const;

const FEEDBACK_MUTATIONS = [
  "submitBinaryFeedback",
  "submitRating",
  "submitCorrection",
  "submitComparison",
  "submitComment",
  "submitImplicitSignal",
  "submitFlag",
];

/** Root fields that accept more than the default; every other field gets `BODY_LIMITS.default`. */
const FIELD_LIMITS: ReadonlyMap<string, number> = new Map([
  ["recordInteraction", BODY_LIMITS.interaction],
  ["recordInteractions", BODY_LIMITS.batch],
  ...FEEDBACK_MUTATIONS.map((name) => [name, BODY_LIMITS.feedback] as const),
]);

export function formatBytes(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${bytes} bytes`;
}

/** The sentence a root field's schema description carries about its body limit. */
export function bodyLimitNote(field: string): string {
  const limit = FIELD_LIMITS.get(field) ?? BODY_LIMITS.default;
  return `The request body may be at most ${formatBytes(limit)} (${formatBytes(BODY_LIMITS.anonymous)} without a credential).`;
}

/** The largest limit among the root fields of the operation(s) a document may run. */
function limitOfDocument(query: string, operationName: string | undefined): number {
  const document = parse(query, { noLocation: true });
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION
        ? [[definition.name.value, definition.selectionSet] as const]
        : [],
    ),
  );
  const rootFields = (selectionSet: SelectionSetNode, seen: Set<string>): string[] =>
    selectionSet.selections.flatMap((selection) => {
      if (selection.kind === Kind.FIELD) return [selection.name.value];
      if (selection.kind === Kind.INLINE_FRAGMENT) return rootFields(selection.selectionSet, seen);
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || seen.has(name)) return [];
      seen.add(name);
      return rootFields(fragment, seen);
    });
  let limit = BODY_LIMITS.default;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && definition.name?.value !== operationName) continue;
    for (const field of rootFields(definition.selectionSet, new Set())) {
      limit = Math.max(limit, FIELD_LIMITS.get(field) ?? BODY_LIMITS.default);
    }
  }
  return limit;
}

/** Reads `query` and `operationName` from the start of a JSON body, if they are in it. */
function operationFromPrefix(prefix: Uint8Array): { query?: string; operationName?: string } {
  const found: { query?: string; operationName?: string } = {};
  const parser = new JSONParser({ paths: ["$.query", "$.operationName"], keepStack: false });
  parser.onValue = ({ value, key }) => {
    if (key === "query" && typeof value === "string") found.query = value;
    if (key === "operationName" && typeof value === "string") found.operationName = value;
  };
  parser.onError = () => undefined;
  try {
    parser.write(prefix);
  } catch {
    // Not JSON: the full parse reports it.
  }
  return found;
}

const tooLarge = (message: string, limit: number) =>
  new GraphQLError(message, {
    extensions: {
      code: "PAYLOAD_TOO_LARGE",
      limitBytes: limit,
      http: { status: 413 },
    },
  });

const hasCredential = (headers: Headers) =>
  headers.has("authorization") || headers.has("x-api-key");

export interface BodyLimitDeps {
  /** Authenticates a request (memoized per request, shared with the context). */
  readonly authenticate: (request: Request) => Promise<Principal>;
}

/**
 * Replaces Yoga's JSON body parser with one that enforces `BODY_LIMITS`; other POST bodies
 * (multipart, form, application/graphql) must declare a Content-Length within the default limit.
 */
export function useBodyLimits(deps: BodyLimitDeps): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      if (request.method !== "POST") return;
      const declared = Number(request.headers.get("content-length") ?? Number.NaN);
      const ceiling = hasCredential(request.headers) ? BODY_LIMITS.batch : BODY_LIMITS.anonymous;
      if (declared > ceiling) {
        throw tooLarge(
          `The request body (${formatBytes(declared)}) exceeds ${formatBytes(ceiling)}${ceiling === BODY_LIMITS.anonymous ? ", the limit without a credential" : ""}.`,
          ceiling,
        );
      }
      const contentType = request.headers.get("content-type") ?? "";
      if (!contentType.includes("json")) {
        const limit = Math.min(ceiling, BODY_LIMITS.default);
        if (!(declared <= limit)) {
          throw tooLarge(
            `Non-JSON request bodies need a Content-Length of at most ${formatBytes(limit)}.`,
            limit,
          );
        }
        return;
      }
      setRequestParser((req) => readJsonBody(req, declared, ceiling, deps));
    },
  };
}

async function readJsonBody(
  request: Request,
  declared: number,
  ceiling: number,
  deps: BodyLimitDeps,
): Promise<Record<string, unknown>> {
  const reader = request.body?.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let limit = Math.min(ceiling, BODY_LIMITS.default);
  let operationKnown = false;
  const refuse = async (error: GraphQLError) => {
    await reader?.cancel().catch(() => undefined);
    throw error;
  };
  while (reader) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > limit && !operationKnown && ceiling > BODY_LIMITS.default) {
      // Past the default: the operation decides how much more may follow.
      operationKnown = true;
      const prefix = Buffer.concat(chunks);
      const { query, operationName } = operationFromPrefix(prefix);
      if (query === undefined) {
        return refuse(
          tooLarge(
            `A request body over ${formatBytes(BODY_LIMITS.default)} must send "query" before "variables".`,
            BODY_LIMITS.default,
          ),
        );
      }
      try {
        limit = limitOfDocument(query, operationName);
      } catch {
        limit = BODY_LIMITS.default;
      }
      if (limit > BODY_LIMITS.default) {
        // Only a valid credential may send more; an invalid one is refused before the rest.
        await deps.authenticate(request).catch((error: unknown) => refuse(error as GraphQLError));
      }
      const operation = operationName ? `operation ${operationName}` : "this operation";
      if (declared > limit || total > limit) {
        return refuse(
          tooLarge(
            `The request body${Number.isFinite(declared) ? ` (${formatBytes(declared)})` : ""} exceeds ${formatBytes(limit)}, the limit for ${operation}.`,
            limit,
          ),
        );
      }
    } else if (total > limit) {
      return refuse(
        tooLarge(
          `The request body exceeds ${formatBytes(limit)}${limit === BODY_LIMITS.anonymous ? ", the limit without a credential" : ""}.`,
          limit,
        ),
      );
    }
  }
  return decodeJsonBody(Buffer.concat(chunks, total));
}
