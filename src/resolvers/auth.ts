import { actorOf, type Scope } from "../auth/actor.js";
import { NotFoundError } from "../errors.js";
import { hexToObjectId } from "../ids.js";
import {
  ApiKeyType,
  CreateApiKeyResult,
  CreatedApiKeyPayload,
  RevokeApiKeyResult,
  ScopeEnum,
  ViewerType,
} from "../schema/auth.js";
import { builder } from "../schema/builder.js";

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerType,
    description: "Who you are to Loopgate: the credential of this request and its scopes.",
    resolve: (_root, _args, context) => context.principal,
  }),
  apiKeys: t.field({
    type: [ApiKeyType],
    authScopes: { admin: true },
    description: "Every API key, newest first (hashes only; keys cannot be shown again).",
    resolve: (_root, _args, context) => context.services.apiKeys.list(),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeyResult,
    authScopes: { admin: true },
    description:
      "Creates an API key with the given scopes. The key is returned once; store it in a secret manager.",
    args: {
      name: t.arg.string({
        required: true,
        description: "What the key is for, e.g. `web-frontend`.",
      }),
      scopes: t.arg({ type: [ScopeEnum], required: true, description: "What it may do." }),
    },
    resolve: async (_root, args, context) => {
      const { apiKey, secret } = await context.services.apiKeys.create(
        { name: args.name, scopes: args.scopes as Scope[] },
        actorOf(context.principal),
      );
      return new CreatedApiKeyPayload(apiKey, secret);
    },
  }),
  revokeApiKey: t.field({
    type: RevokeApiKeyResult,
    authScopes: { admin: true },
    description: "Revokes an API key at once; requests with it fail from then on.",
    args: { id: t.arg.string({ required: true, description: "The key's id (ApiKey.id)." }) },
    resolve: (_root, args, context) => {
      const id = hexToObjectId(args.id);
      if (!id) throw new NotFoundError("ApiKey", args.id);
      return context.services.apiKeys.revoke(id, actorOf(context.principal));
    },
  }),
}));
