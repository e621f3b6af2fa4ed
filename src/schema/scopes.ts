import type { Principal } from "../auth/actor.js";

/** The scopes fields declare (`authScopes`), and what each credential holds. */
export interface AuthScopes {
  /** Record interactions and submit feedback with an API key. */
  ingest: boolean;
  /** Analysts' read access: listings, aggregates, the live feed, stored data a write did not send. */
  read: boolean;
  /** Keys, feedback configs, conflict resolution, erasure. */
  admin: boolean;
  /** A browser holding a feedback token for one interaction (or an ingest key). */
  feedbackToken: boolean;
}

export function scopesOf(principal: Principal): AuthScopes {
  return {
    ingest: principal.scopes.has("ingest"),
    read: principal.scopes.has("read"),
    admin: principal.scopes.has("admin"),
    feedbackToken: principal.kind === "feedbackToken" || principal.scopes.has("ingest"),
  };
}

/**
 * Whether a declared scope requirement holds, evaluated as scope-auth evaluates it: a scope map's
 * entries are alternatives (its default strategy), `$all` needs every entry, `$any` one. Returns
 * `undefined` when only the resolver can tell (a requirement computed per value, `$granted`).
 */
export function satisfies(
  requirement: unknown,
  held: AuthScopes,
  forAll = false,
): boolean | undefined {
  if (requirement === undefined || requirement === null || requirement === true) return true;
  if (requirement === false) return false;
  if (typeof requirement !== "object") return undefined;
  const results: Array<boolean | undefined> = Object.entries(requirement).map(([name, value]) => {
    if (name === "$any") return satisfies(value, held, false);
    if (name === "$all") return satisfies(value, held, true);
    if (name in held) return held[name as keyof AuthScopes];
    return undefined;
  });
  if (forAll) {
    if (results.includes(false)) return false;
    return results.includes(undefined) ? undefined : true;
  }
  if (results.includes(true)) return true;
  return results.includes(undefined) ? undefined : false;
}
