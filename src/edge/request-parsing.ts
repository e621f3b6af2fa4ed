import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * How deep request JSON may nest. MongoDB refuses documents nested past 100 levels, and deeper
 * JSON would only reach recursive code (validation, serialization) that can overflow the stack.
 */
export const MAX_REQUEST_JSON_DEPTH = 64;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function badRequest(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: "BAD_REQUEST", http: { status: 400 } },
  });
}

/** Iterative, so that the check itself cannot overflow the stack on hostile input. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index++;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) {
      if (++depth > max) return true;
    } else if (char === 0x7d || char === 0x5d) depth--;
  }
  return false;
}

function parseJson(text: string, what: string): unknown {
  if (jsonDepthExceeds(text, MAX_REQUEST_JSON_DEPTH)) {
    throw badRequest(`${what} nests deeper than ${MAX_REQUEST_JSON_DEPTH} levels.`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`${what} is not valid JSON.`);
  }
}

function jsonObjectParam(value: string | null, what: string): Record<string, unknown> | undefined {
  if (!value) return undefined;
  const parsed = parseJson(value, what);
  if (parsed === null) return undefined;
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw badRequest(`${what} must be a JSON object.`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * A JSON request body, strictly: bytes that are not UTF-8 are refused rather than replaced by
 * U+FFFD, JSON nested too deep rather than reaching recursive code that can overflow the stack.
 * The body reader of `body-limits.ts` calls it once the body is within its limit.
 */
export function decodeJsonBody(bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest("The request body is not valid UTF-8.");
  }
  const body = parseJson(text, "The request body");
  if (body === null || typeof body !== "object") {
    throw badRequest("The request body must be a JSON object or array.");
  }
  return body as Record<string, unknown>;
}

/**
 * Parses GET requests strictly, before yoga's lenient parser sees them: malformed `variables` or
 * `extensions` are refused with 400 and code BAD_REQUEST instead of becoming `Unexpected error.`.
 * (POST bodies are read by `body-limits.ts`, which decodes them with `decodeJsonBody`.)
 */
export function requestParsingPlugin(): Plugin {
  return {
    onRequestParse({ request, url, requestParser, setRequestParser }) {
      if (!requestParser) return;
      if (request.method === "GET") {
        setRequestParser(() => ({
          query: url.searchParams.get("query") ?? undefined,
          operationName: url.searchParams.get("operationName") ?? undefined,
          variables: jsonObjectParam(
            url.searchParams.get("variables"),
            "The `variables` parameter",
          ),
          extensions: jsonObjectParam(
            url.searchParams.get("extensions"),
            "The `extensions` parameter",
          ),
        }));
        return;
      }
    },
  };
}
