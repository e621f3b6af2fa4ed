import type { Principal } from "../auth/actor.js";
import { ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import { toGlobalId } from "../ids.js";
import type { ApiKeyDoc } from "../store/documents.js";
import { builder } from "./builder.js";
import { enumOf } from "./common.js";

export const ScopeEnum = enumOf("Scope", "What an API key may do.", {
  ingest: "Record interactions, submit feedback, issue feedback tokens.",
  read: "Analysts' queries, aggregates and the live feed.",
  admin: "API keys, feedback keys, conflict resolution and erasure.",
});

export const ApiKeyType = builder.objectRef<ApiKeyDoc>("ApiKey").implement({
  description: "An API key. Only a hash is stored; the key itself is shown once, at creation.",
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "hash" in value && "scopes" in value,
  fields: (t) => ({
    id: t.string({
      description: "The key's id (for revokeApiKey).",
      resolve: (key) => key._id.toHexString(),
    }),
    name: t.exposeString("name", { description: "What the key is for." }),
    prefix: t.exposeString("prefix", {
      description: "The first characters of the key, to tell keys apart.",
    }),
    scopes: t.field({
      type: [ScopeEnum],
      description: "What the key may do.",
      resolve: (key) => key.scopes,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was created." }),
    createdBy: t.exposeString("createdBy", {
      description: "Id of the key that created it, or `bootstrap`.",
    }),
    lastUsedAt: t.expose("lastUsedAt", {
      type: "DateTime",
      nullable: true,
      description: "Last use, to the minute.",
    }),
    revokedAt: t.expose("revokedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it was revoked.",
    }),
  }),
});

export class CreatedApiKeyPayload {
  constructor(
    readonly apiKey: ApiKeyDoc,
    readonly secret: string,
  ) {}
}

builder.objectType(CreatedApiKeyPayload, {
  isTypeOf: (value) => value instanceof CreatedApiKeyPayload,
  name: "CreatedApiKey",
  description: "A new API key. Copy `secret` now: Loopgate cannot show it again.",
  fields: (t) => ({
    apiKey: t.field({
      type: ApiKeyType,
      description: "The key's record.",
      resolve: (payload) => payload.apiKey,
    }),
    secret: t.exposeString("secret", {
      description: "The key itself; send it as `Authorization: Bearer <secret>`.",
    }),
  }),
});

export const ViewerType = builder.objectRef<Principal>("Viewer").implement({
  description: "The credential making this request.",
  fields: (t) => ({
    kind: t.string({
      description: "`anonymous`, `apiKey` or `feedbackToken`.",
      resolve: (principal) => principal.kind,
    }),
    scopes: t.field({
      type: [ScopeEnum],
      description: "Granted scopes.",
      resolve: (principal) => [...principal.scopes],
    }),
    keyName: t.string({
      nullable: true,
      description: "The API key's name.",
      resolve: (principal) => (principal.kind === "apiKey" ? principal.keyName : null),
    }),
    interactionId: t.id({
      nullable: true,
      description:
        "For a feedback token: the interaction it is bound to (its global ID, as `Interaction.id`).",
      resolve: (principal) =>
        principal.kind === "feedbackToken"
          ? toGlobalId("Interaction", principal.interactionId)
          : null,
    }),
  }),
});

export const CreateApiKeyResult = builder.errorUnion("CreateApiKeyResult", {
  description: "The new key (shown once), or why none was created.",
  types: [CreatedApiKeyPayload, ValidationError, ForbiddenError],
});

export const RevokeApiKeyResult = builder.errorUnion("RevokeApiKeyResult", {
  description: "The revoked key, or why nothing was revoked.",
  types: [ApiKeyType, NotFoundError, ForbiddenError],
});
