import type { ObjectId } from "mongodb";
import { ForbiddenError } from "../errors.js";

export type Scope = "ingest" | "read" | "admin";
export const allScopes: readonly Scope[] = ["ingest", "read", "admin"];

/** A request made with an API key. */
export interface ApiKeyActor {
  readonly kind: "apiKey";
  readonly scopes: ReadonlySet<Scope>;
  readonly keyId: ObjectId;
  readonly keyName: string;
}

/** A browser holding a feedback token: it speaks for one interaction's user and nobody else. */
export interface FeedbackTokenActor {
  readonly kind: "feedbackToken";
  readonly scopes: ReadonlySet<Scope>;
  /** The only interaction this credential may give feedback on. */
  readonly interactionId: ObjectId;
  /** The interaction's pseudonymous user, who becomes the feedback's author. */
  readonly userId?: string;
  readonly expiresAt: Date;
}

/**
 * Work that no request started: a job, an integration, the LLM judge, Loopgate itself. The name
 * says which (e.g. `job:retrain`, `integration:langsmith`, `llm-judge`); it is what audit fields
 * record.
 */
export interface SystemActor {
  readonly kind: "system";
  readonly name: string;
}

/**
 * Who does something. Services take an Actor rather than the GraphQL request context, so jobs, the
 * CLI and resolvers call the same code; scopes are checked at the edge (GraphQL), not here.
 */
export type Actor = ApiKeyActor | FeedbackTokenActor | SystemActor;

/** A request without credentials: it may call what needs no scope, and act on nothing. */
export interface AnonymousPrincipal {
  readonly kind: "anonymous";
  readonly scopes: ReadonlySet<Scope>;
}

/** Who is calling over HTTP. Resolved once per request from the Authorization header. */
export type Principal = AnonymousPrincipal | ApiKeyActor | FeedbackTokenActor;

export const anonymous: Principal = { kind: "anonymous", scopes: new Set() };

export function systemActor(name: string): SystemActor {
  return { kind: "system", name };
}

/** Loopgate itself, e.g. when later feedback withdraws a disagreement. */
export const loopgateActor = systemActor("loopgate");
/** The start-up step that provisions the first admin key. */
export const bootstrapActor = systemActor("bootstrap");

/** The request's actor; anonymous requests act on nothing (scope checks normally stop them first). */
export function actorOf(principal: Principal): Actor {
  if (principal.kind === "anonymous") {
    throw new ForbiddenError("this operation needs a credential (Authorization: Bearer <key>)");
  }
  return principal;
}

/**
 * The one form audit fields (createdBy, revokedBy, resolvedBy, requestedBy, submittedBy) record:
 * `<key name> (<key id>)` for API keys, `feedbackToken` for browser tokens, the name for system
 * actors.
 */
export function actorLabel(actor: Actor): string {
  switch (actor.kind) {
    case "apiKey":
      return `${actor.keyName} (${actor.keyId.toHexString()})`;
    case "feedbackToken":
      return "feedbackToken";
    case "system":
      return actor.name;
  }
}
